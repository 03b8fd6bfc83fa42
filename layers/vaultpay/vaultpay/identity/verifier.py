"""The authorizer's composition: only what verifying an access token needs."""

from __future__ import annotations

from functools import lru_cache

import jwt  # noqa: F401 - every request verifies a token: PyJWT loads at init, not on the first request

from vaultpay.core.settings import get_jwt_settings
from vaultpay.identity.shared_composition import access_tokens
from vaultpay.identity.tokens import AccessTokenCodec


@lru_cache(maxsize=1)
def access_token_verifier() -> AccessTokenCodec:
    return access_tokens(get_jwt_settings())
