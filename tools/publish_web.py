"""Publish the dashboard (web/) to a deployed stack's bucket and refresh its CloudFront cache.

    python -m tools.publish_web --stack vaultpay-dev [--region ap-south-1]

`make deploy` runs it after `sam deploy`. HTML is served `no-cache` (a new deploy shows at
once); scripts, styles and images are revalidated too, since their names carry no hash.
"""

from __future__ import annotations

import argparse
import mimetypes
import time
from pathlib import Path
from typing import Any

import boto3

from local.template import ROOT

WEB = ROOT / "web"


def files(root: Path = WEB) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file() and not path.name.startswith("."))


def upload(s3: Any, bucket: str, root: Path = WEB) -> list[str]:
    """Upload every file of ``root``; return the keys written."""
    keys = []
    for path in files(root):
        key = path.relative_to(root).as_posix()
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type in ("application/javascript", "image/svg+xml"):
            content_type += "; charset=utf-8"
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), ContentType=content_type, CacheControl="no-cache")
        keys.append(key)
    return keys


def invalidate(cloudfront: Any, distribution_id: str) -> str:
    response = cloudfront.create_invalidation(
        DistributionId=distribution_id,
        InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": str(time.time_ns())},
    )
    return str(response["Invalidation"]["Id"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--region")
    args = parser.parse_args()
    stack = boto3.client("cloudformation", region_name=args.region).describe_stacks(StackName=args.stack)["Stacks"][0]
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}
    keys = upload(boto3.client("s3", region_name=args.region), outputs["WebBucketName"])
    invalidation = invalidate(boto3.client("cloudfront"), outputs["WebDistributionId"])
    print(f"published {len(keys)} files; CloudFront invalidation {invalidation}; {outputs['DashboardUrl']}")


if __name__ == "__main__":
    main()
