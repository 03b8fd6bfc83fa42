"""Test data: valid Aadhaar numbers (Verhoeff), strong passwords, people."""

from __future__ import annotations

import random

from vaultpay.core.aadhaar import verhoeff_check_digit

PASSWORD = "correct horse battery staple"


def make_aadhaar(rng: random.Random | None = None) -> str:
    rng = rng or random.Random()
    first = str(rng.randint(2, 9))
    body = first + "".join(str(rng.randint(0, 9)) for _ in range(10))
    return body + verhoeff_check_digit(body)


def registration(
    email: str, *, aadhaar: str | None = None, password: str = PASSWORD, full_name: str = "Asha Verma"
) -> dict[str, str]:
    return {"email": email, "password": password, "full_name": full_name, "aadhaar": aadhaar or make_aadhaar()}
