"""The authorizer's composition: verifying an access token (locally, with the signing key's public
half) and one read of its session."""

from __future__ import annotations

from functools import lru_cache

import jwt  # noqa: F401 - every request verifies a token: PyJWT (and cryptography) load at init, not on the first request

from vaultpay.core import aws
from vaultpay.core.clock import utc_now
from vaultpay.core.settings import get_authorizer_settings
from vaultpay.identity.authorization import CachedSessions, RequestAuthorizer
from vaultpay.identity.dynamo_tokens import DynamoSessionReader
from vaultpay.identity.kms import KmsPublicKeys
from vaultpay.identity.tokens import AccessTokenVerifier


@lru_cache(maxsize=1)
def request_authorizer() -> RequestAuthorizer:
    settings = get_authorizer_settings()
    return RequestAuthorizer(
        tokens=AccessTokenVerifier(
            public_keys=KmsPublicKeys(aws.kms(), settings.verification_key_ids),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        ),
        sessions=CachedSessions(
            reader=DynamoSessionReader(aws.dynamodb(), settings.main_table_name),
            cache_seconds=settings.session_cache_seconds,
            clock=utc_now,
        ),
        clock=utc_now,
    )
