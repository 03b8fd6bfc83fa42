"""Reading a table's whole stream into the records Lambda would deliver."""

from __future__ import annotations

from typing import Any

from local.streams import lambda_record


def stream_records(streams: Any, stream_arn: str, region: str = "ap-south-1") -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")[
            "ShardIterator"
        ]
        while iterator:
            response = streams.get_records(ShardIterator=iterator, Limit=1000)
            records.extend(lambda_record(record, stream_arn, region) for record in response["Records"])
            if not response["Records"]:
                break
            iterator = response.get("NextShardIterator")
    return records
