"""Optimistic concurrency over HTTP: ETag out, If-Match in (428 without it, 412 when stale)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from shared.errors import PreconditionFailed, PreconditionRequired


def etag(version: int) -> str:
    return f'"v{version}"'


class ExpectedVersion:
    """What the caller's If-Match allows: a set of versions, or any (``*``)."""

    __slots__ = ("any", "versions")

    def __init__(self, versions: frozenset[int], any_: bool = False) -> None:
        self.versions = versions
        self.any = any_

    def check(self, current: int) -> None:
        if not self.any and current not in self.versions:
            raise PreconditionFailed()

    @classmethod
    def parse(cls, header: str | None) -> ExpectedVersion:
        if header is None or not header.strip():
            raise PreconditionRequired()
        if header.strip() == "*":
            return cls(frozenset(), any_=True)
        versions = set()
        for part in header.split(",")[:20]:
            tag = part.strip()
            if tag.startswith("W/"):
                continue  # weak tags never match in If-Match (RFC 9110 13.1.1)
            tag = tag.strip('"')
            if tag.startswith("v") and tag[1:].isdigit() and len(tag) < 12:
                versions.add(int(tag[1:]))
        return cls(frozenset(versions))


IF_MATCH_DOC = 'ETag of the version you read, e.g. "v3". Required: 428 without it, 412 if stale.'


async def if_match(
    if_match: Annotated[
        str | None, Header(alias="If-Match", max_length=512, description=IF_MATCH_DOC)
    ] = None,
) -> ExpectedVersion:
    return ExpectedVersion.parse(if_match)


IfMatch = Annotated[ExpectedVersion, Depends(if_match)]
