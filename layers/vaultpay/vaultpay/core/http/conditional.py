"""Conditional requests (RFC 9110 13.1.2): cheap polling of the balance with ETag / If-None-Match."""

from __future__ import annotations


def entity_tag(version: int) -> str:
    return f'"{version}"'


def none_match(if_none_match: str | None, etag: str) -> bool:
    """True when the client's If-None-Match names the current entity (weak comparison), i.e. 304."""
    if not if_none_match:
        return False
    candidates = [candidate.strip() for candidate in if_none_match.split(",")]
    return any(candidate == "*" or candidate.removeprefix("W/") == etag for candidate in candidates)
