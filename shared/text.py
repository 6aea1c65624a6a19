"""Text that people type about people: what identity fields refuse, and the one form they are
stored in.

Refused, not stripped: a NUL is a 500 on PostgreSQL and stored as-is by SQLite, a bell or a C1
control corrupts exports, and right-to-left overrides or zero-width characters make two names
look alike (name spoofing, and a way past duplicate detection). Removing them silently would
store something the person did not type; a 422 naming the field lets the NGO fix its sheet.
What remains is stored in Unicode NFC, so "José" typed with a combining accent is the same
name as "José" typed with one key.
"""

from __future__ import annotations

import re
import unicodedata

from pydantic import AfterValidator

# C0 and C1 controls (NUL, bell, escape, next-line...) and DEL.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Bidirectional controls and zero-width characters: invisible, and able to reorder or split
# what a reader sees.
_INVISIBLE = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_SURROGATES = re.compile("[\ud800-\udfff]")


def identity_text(value: str) -> str:
    """The checked, NFC form of a name or another one-line field about a person."""
    if _CONTROLS.search(value):
        raise ValueError("control characters are not allowed")
    if _SURROGATES.search(value):
        raise ValueError("invalid character (an unpaired surrogate)")
    if _INVISIBLE.search(value):
        raise ValueError("invisible formatting characters (bidirectional controls or "
                         "zero-width characters) are not allowed")
    return unicodedata.normalize("NFC", value)


# Use as ``Annotated[str, StringConstraints(...), IdentityText]``.
IdentityText = AfterValidator(identity_text)
