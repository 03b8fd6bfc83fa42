"""An authenticator app, for tests: the TOTP of an enrolment's otpauth:// URI (pyotp)."""

from __future__ import annotations

import pyotp


def authenticator(secret_uri: str) -> pyotp.TOTP:
    otp = pyotp.parse_uri(secret_uri)
    assert isinstance(otp, pyotp.TOTP), secret_uri.split("?")[0]
    return otp
