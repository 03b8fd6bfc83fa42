"""The loan sweeper, run on a schedule: expires requests past their deadline and refunds them,
collects installments due, marks what it cannot collect OVERDUE, defaults loans overdue too long.
Every step is conditional, so a run that overlaps another (or runs twice) moves nothing twice."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from vaultpay.core.observability import logger, metrics, tracer
from vaultpay.lending.composition import lending_service


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = lending_service().sweep()
    for name, value in report.model_dump().items():
        if value:
            metrics.add_metric(name=f"Loans{name.title().replace('_', '')}", unit=MetricUnit.Count, value=value)
    logger.info("sweep finished", extra=report.model_dump())
    return report.model_dump()
