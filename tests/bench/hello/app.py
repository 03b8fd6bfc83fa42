"""The reference for cold starts: a minimal Powertools HTTP handler with a boto3 client."""

from typing import Any

import boto3
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.utilities.typing import LambdaContext

app = APIGatewayHttpResolver()
dynamodb = boto3.client("dynamodb")


@app.get("/hello")
def hello() -> dict[str, str]:
    return {"hello": "world"}


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
