"""The authorizer's composition: only what verifying an access token needs."""

from __future__ import annotations

from functools import lru_cache

import jwt  # noqa: F401 - every request verifies a token: PyJWT loads at init, not on the first request

from vaultpay.logic.tokens import AccessTokenCodec
from vaultpay.services.common import access_tokens
from vaultpay.settings import get_jwt_settings


@lru_cache(maxsize=1)
def access_token_verifier() -> AccessTokenCodec:
    return access_tokens(get_jwt_settings())
