"""Publishing the dashboard to the stack's bucket (moto)."""

from __future__ import annotations

import boto3
from moto import mock_aws

from tools.publish_web import WEB, files, upload


def test_every_file_of_the_dashboard_is_uploaded_with_its_type_and_no_cache() -> None:
    with mock_aws():
        # Given the stack's bucket
        s3 = boto3.client("s3", region_name="ap-south-1")
        s3.create_bucket(Bucket="web", CreateBucketConfiguration={"LocationConstraint": "ap-south-1"})
        # When the dashboard is published
        keys = upload(s3, "web")
        # Then every file is there, typed, and revalidated by browsers
        assert set(keys) == {path.relative_to(WEB).as_posix() for path in files()}
        assert {"index.html", "js/app.js", "styles.css"} <= set(keys)
        index = s3.head_object(Bucket="web", Key="index.html")
        assert index["ContentType"] == "text/html; charset=utf-8"
        assert index["CacheControl"] == "no-cache"
        assert s3.head_object(Bucket="web", Key="js/app.js")["ContentType"].startswith(
            ("text/javascript", "application/javascript")
        )
