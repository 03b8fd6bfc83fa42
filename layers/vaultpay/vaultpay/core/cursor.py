"""Pagination cursors: an opaque token for a position inside the caller's own listing.

A cursor names a position and the listing (``scope``) it belongs to; it never names a partition,
so no cursor can read another user's data. One from another listing, or with a position that is
not of the listing's shape, is an InvalidCursor.
"""

from __future__ import annotations

import base64
import binascii
import json
import re

from vaultpay.core.errors import InvalidCursor


def encode_cursor(position: str, scope: str) -> str:
    payload = json.dumps({"p": position, "d": scope}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_cursor(cursor: str, scope: str, position_pattern: re.Pattern[str]) -> str:
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidCursor() from None
    if not isinstance(payload, dict) or payload.get("d") != scope:
        raise InvalidCursor()
    position = payload.get("p")
    if not isinstance(position, str) or not position_pattern.fullmatch(position):
        raise InvalidCursor()
    return position
