"""Free text people type (names, notes): which characters it may hold, as data.

The same character classes make the validators' regular expressions and the ``pattern`` the
OpenAPI document states, so the document says exactly what the API refuses. They are written out
(Unicode 15.1, the Lambda runtime's Python 3.13) rather than computed from ``unicodedata`` at
import: every cold start would walk the whole code space, and the answer would depend on the
Python that runs. ``tests/unit/test_text.py`` checks them against the running Python's tables.

The ranges use ``\\xHH`` and ``\\uHHHH`` escapes (read alike by Python's ``re``, ECMAScript, which
JSON Schema patterns follow, and Rust's ``regex``) and literal characters beyond the BMP, where
the three spell escapes differently.
"""

from __future__ import annotations

import re

# General category Cc: C0 controls, DEL and the C1 controls.
CONTROL_RANGES: tuple[tuple[int, int], ...] = ((0x00, 0x1F), (0x7F, 0x9F))

# General category Cf: invisible formatting characters. Bidi overrides and isolates
# (U+202A-U+202E, U+2066-U+2069) reorder what others see ("Ravi\u202egnp.exe"); zero-width
# characters (U+200B-U+200D, U+2060, U+FEFF) and the soft hyphen make look-alike names and notes.
FORMAT_RANGES: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
)

# What str.strip() removes that is neither a control nor a formatting character (category Zs, Zl, Zp).
SPACE_RANGES: tuple[tuple[int, int], ...] = (
    (0x0020, 0x0020),
    (0x00A0, 0x00A0),
    (0x1680, 0x1680),
    (0x2000, 0x200A),
    (0x2028, 0x2029),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
)


def _escape(code_point: int) -> str:
    if code_point <= 0xFF:
        return f"\\x{code_point:02x}"
    if code_point <= 0xFFFF:
        return f"\\u{code_point:04x}"
    return chr(code_point)


def character_class(*ranges: tuple[tuple[int, int], ...]) -> str:
    """The inside of a regex character class (no brackets) holding every range given."""
    return "".join(_escape(low) if low == high else f"{_escape(low)}-{_escape(high)}" for group in ranges for low, high in group)


_CONTROL = character_class(CONTROL_RANGES)
_FORMAT = character_class(FORMAT_RANGES)
_SPACE = character_class(SPACE_RANGES)

NOTE_PATTERN = f"^[^{_CONTROL}{_FORMAT}]*$"
"""A note: any characters but controls and invisible formatting characters."""

NAME_PATTERN = f"^[^{_CONTROL}{_FORMAT}]*[^{_CONTROL}{_FORMAT}{_SPACE}][^{_CONTROL}{_FORMAT}]*$"
"""A name: as a note, with at least one character that is not a space."""

_CONTROL_RE = re.compile(f"[{_CONTROL}]")
_FORMAT_RE = re.compile(f"[{_FORMAT}]")


def refuse_invisible(value: str) -> str:
    """No control characters (Cc) and no invisible formatting characters (Cf)."""
    if _CONTROL_RE.search(value):
        raise ValueError("must not contain control characters")
    if _FORMAT_RE.search(value):
        raise ValueError("must not contain invisible formatting characters (bidi controls, zero-width characters)")
    return value


def refuse_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must contain something other than spaces")
    return value
