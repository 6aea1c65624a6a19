"""Opaque, tamper-evident cursors for keyset pagination.

A cursor names the list it belongs to and the filters it was made with, and is MAC'd: a
tampered cursor, or one taken from another list or other filters, is a 400, never a silently
wrong page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Query
from pydantic import BaseModel, Field

from shared.errors import InvalidCursor

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` to get the next page; null on the last page."
    )


class CursorCodec:
    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"ruta-cursor\0" + secret.encode()).digest()

    def _mac(self, data: bytes) -> bytes:
        return hmac.new(self._key, data, hashlib.sha256).digest()[:16]

    def encode(self, list_name: str, filters: dict[str, Any], position: list[Any]) -> str:
        body = orjson.dumps({"l": list_name, "f": _fingerprint(filters), "p": position})
        raw = body + self._mac(body)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def decode(self, cursor: str, list_name: str, filters: dict[str, Any]) -> list[Any]:
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
        if data.get("l") != list_name or data.get("f") != _fingerprint(filters):
            raise InvalidCursor()
        position = data.get("p")
        if not isinstance(position, list):
            raise InvalidCursor()
        return position


def _fingerprint(filters: dict[str, Any]) -> str:
    clean = {k: v for k, v in sorted(filters.items()) if v is not None}
    return hashlib.sha256(orjson.dumps(clean, default=str)).hexdigest()[:16]


Limit = Annotated[int, Query(ge=1, le=200, description="Page size (1-200).")]
Cursor = Annotated[
    str | None,
    Query(max_length=1024, pattern=r"^[A-Za-z0-9_-]+$",
          description="Opaque cursor from the previous page's `next_cursor`."),
]
