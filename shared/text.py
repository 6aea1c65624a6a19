"""Text that people type: what every text field of the API refuses, what identity fields
refuse besides, and the one form identity text is stored in.

Every text field refuses C0 and C1 control characters (NUL, bell, escape, next-line...), DEL
and unpaired surrogates: a NUL is a 500 on PostgreSQL and stored as-is by SQLite, an unpaired
surrogate cannot be encoded at all, and a control corrupts exports and logs. Long free text
(notes, descriptions, reasons) keeps tab, line feed and carriage return: people write
paragraphs, and browsers send a text area's lines as CR LF.

Identity fields (a person's names, skills and health conditions) also refuse bidirectional
controls and zero-width characters: invisible, they make two names look alike or reorder
what a reader sees (name spoofing, and a way past duplicate detection). What they accept is
stored in Unicode NFC, so "José" typed with a combining accent is the same name as "José"
typed with one key. Free text is not normalised: a verifiable credential or a note is kept
byte for byte as sent.

Refused, not stripped: removing characters silently would store something the person did
not type (a legal name changed behind the caseworker's back); a 422 naming the field lets
the NGO fix its sheet. Look-alike letters (Cyrillic "а" in a Latin name) are accepted — they
may be a real spelling — and folded by duplicate detection instead (services/registry/
search.py); ``ruta text-audit`` lists rows stored before these rules.

Use as ``Annotated[str, StringConstraints(...), OneLineText]`` (or ``MultiLineText``,
``IdentityText``); tests/shared/test_text_guard_coverage.py fails when a string field of
the public API has neither one of these guards nor a closed pattern or set of codes.
"""

from __future__ import annotations

import re
import unicodedata

from pydantic import AfterValidator

from shared.errors import InvalidValue
from shared.i18n import Text

# C0 and C1 controls (NUL, bell, escape, next-line...) and DEL.
CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# The same but tab, line feed and carriage return: the lines of a long free text.
CONTROLS_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Bidirectional controls and zero-width characters: invisible, and able to reorder or split
# what a reader sees.
INVISIBLE = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
SURROGATES = re.compile("[\ud800-\udfff]")

_CONTROL = Text("No se admiten caracteres de control (p. ej. NUL)",
                "Control characters (such as NUL) are not allowed")
_LINE_BREAK = Text("No se admiten caracteres de control ni saltos de línea",
                   "Control characters and line breaks are not allowed")
_SURROGATE = Text("Carácter no válido (un sustituto UTF-16 sin pareja)",
                  "Invalid character (an unpaired UTF-16 surrogate)")
_INVISIBLE = Text("No se admiten caracteres invisibles de formato (controles bidireccionales "
                  "ni caracteres de ancho cero)",
                  "Invisible formatting characters (bidirectional controls or zero-width "
                  "characters) are not allowed")


def _refuse(value: str, controls: re.Pattern[str], message: Text) -> None:
    if SURROGATES.search(value):
        raise InvalidValue(_SURROGATE)
    if controls.search(value):
        raise InvalidValue(message)


def one_line_text(value: str) -> str:
    """A one-line text field (a title, an organisation's name, a number as written)."""
    _refuse(value, CONTROLS, _LINE_BREAK)
    return value


def multi_line_text(value: str) -> str:
    """Long free text (notes, descriptions, reasons): lines and tabs allowed."""
    _refuse(value, CONTROLS_BUT_LINES, _CONTROL)
    return value


def identity_text(value: str) -> str:
    """The checked, NFC form of a name or another one-line field about a person."""
    _refuse(value, CONTROLS, _LINE_BREAK)
    if INVISIBLE.search(value):
        raise InvalidValue(_INVISIBLE)
    return unicodedata.normalize("NFC", value)


OneLineText = AfterValidator(one_line_text)
MultiLineText = AfterValidator(multi_line_text)
IdentityText = AfterValidator(identity_text)
# What the coverage test recognises as a text guard.
TEXT_GUARDS = frozenset({one_line_text, multi_line_text, identity_text})
