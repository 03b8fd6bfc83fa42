"""Content negotiation (RFC 9110 12.5.1): which of the representations a route offers the
``Accept`` header prefers."""

from __future__ import annotations

from collections.abc import Sequence


def _quality(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                return min(1.0, max(0.0, float(value)))
            except ValueError:
                return 0.0
    return 1.0


def _acceptance(accept: str, media_type: str) -> tuple[float, int]:
    """The quality the client gives ``media_type`` (from the most specific range naming it: the
    type itself, then ``type/*``, then ``*/*``) and how specific that range was; (0, -1) if none."""
    kind = media_type.partition("/")[0]
    found = (0.0, -1)
    for entry in accept.split(","):
        spec, *parameters = entry.split(";")
        spec = spec.strip().lower()
        specificity = {media_type: 2, f"{kind}/*": 1, "*/*": 0}.get(spec, -1)
        if specificity > found[1]:
            found = (_quality(parameters), specificity)
    return found


def preferred_media_type(accept: str | None, offered: Sequence[str]) -> str:
    """The offered media type the client prefers: the highest quality, then the one it named most
    specifically, then the first offered. No ``Accept``, or one that accepts none of them, gets the
    first offered (a server may answer what it has: RFC 9110 12.5.1)."""
    if not accept or not accept.strip():
        return offered[0]
    best, best_rank = offered[0], (0.0, -1, 0)
    for position, media_type in enumerate(offered):
        quality, specificity = _acceptance(accept, media_type)
        rank = (quality, specificity, -position)
        if quality > 0 and rank > best_rank:
            best, best_rank = media_type, rank
    return best
