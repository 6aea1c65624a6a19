"""Opaque, tamper-evident cursors for keyset pagination, bound to the caller.

A cursor names the list it belongs to, the filters it was made with and the caller it was
given to (the client or person and their organisation), and is MAC'd: a tampered cursor, one
taken from another list or other filters, or one replayed by anybody else is a 400, never a
page. Lists re-check authorisation on every page anyway; the binding means a leaked cursor is
worth nothing to whoever finds it (docs/decisions/0006-cursors-bound-to-caller.md).

Cursors made before the binding carry no caller ("legacy"). Only the event feed still reads
them, for a stated transition window (gateway/events/feed.py); every other list refuses them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Query
from pydantic import BaseModel, Field

from shared.errors import InvalidCursor
from shared.identity import Identity

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` to get the next page; null on the last page."
    )


@dataclass(frozen=True, slots=True)
class OpenedCursor:
    """A cursor whose MAC, list and filters checked out. ``legacy``: made before cursors named
    their caller, so nobody owns it; ``digest`` names it however its base64 was spelled."""

    position: list[Any]
    legacy: bool
    digest: str


class CursorCodec:
    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"ruta-cursor\0" + secret.encode()).digest()

    def _mac(self, data: bytes) -> bytes:
        return hmac.new(self._key, data, hashlib.sha256).digest()[:16]

    def owner(self, caller: Identity) -> str:
        """Who a cursor belongs to, keyed so the cursor (readable base64) shows no identifier:
        the kind of caller, its subject (client id or person) and its organisation."""
        who = orjson.dumps(["owner", caller.kind, caller.subject, caller.organisation_id])
        return hmac.new(self._key, who, hashlib.sha256).hexdigest()[:24]

    def encode(self, list_name: str, filters: dict[str, Any], position: list[Any], *,
               caller: Identity) -> str:
        body = orjson.dumps({"l": list_name, "f": _fingerprint(filters), "p": position,
                             "o": self.owner(caller)})
        raw = body + self._mac(body)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def decode(self, cursor: str, list_name: str, filters: dict[str, Any], *,
               caller: Identity) -> list[Any]:
        """The position of a cursor this caller was given for this list and these filters."""
        opened = self.open(cursor, list_name, filters, caller=caller)
        if opened.legacy:
            raise InvalidCursor()
        return opened.position

    def open(self, cursor: str, list_name: str, filters: dict[str, Any], *,
             caller: Identity) -> OpenedCursor:
        """Like ``decode`` but a legacy cursor (no owner) is returned, marked, for the one list
        that still honours them to decide on."""
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (ValueError, TypeError):
            raise InvalidCursor() from None
        body, mac = raw[:-16], raw[-16:]
        if len(raw) < 17 or not hmac.compare_digest(mac, self._mac(body)):
            raise InvalidCursor()
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise InvalidCursor() from None
        if not isinstance(data, dict) or data.get("l") != list_name \
                or data.get("f") != _fingerprint(filters):
            raise InvalidCursor()
        owner = data.get("o")
        if owner is not None and not hmac.compare_digest(str(owner), self.owner(caller)):
            raise InvalidCursor()
        position = data.get("p")
        if not isinstance(position, list) or not position:
            raise InvalidCursor()
        return OpenedCursor(position=position, legacy=owner is None,
                            digest=hashlib.sha256(raw).hexdigest())


def _fingerprint(filters: dict[str, Any]) -> str:
    clean = {k: v for k, v in sorted(filters.items()) if v is not None}
    return hashlib.sha256(orjson.dumps(clean, default=str)).hexdigest()[:16]


Limit = Annotated[int, Query(ge=1, le=200, description="Page size (1-200).")]
Cursor = Annotated[
    str | None,
    Query(max_length=1024, pattern=r"^[A-Za-z0-9_-]+$",
          description="Opaque cursor from the previous page's `next_cursor`. It works only "
                      "for the caller it was given to, on the same list with the same filters."),
]
