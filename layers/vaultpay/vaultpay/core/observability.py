"""Powertools Logger, Tracer and Metrics: one of each per execution environment.

Each function sets POWERTOOLS_SERVICE_NAME in the template; namespaces and levels come from
the Globals. Never pass a secret, token, password or Aadhaar number to the logger.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
# Only botocore is patched (AWS calls become X-Ray subsegments): patch_all would import and
# patch every library X-Ray knows, for nothing, at every cold start.
tracer = Tracer(patch_modules=["botocore"])
metrics = Metrics()
