from __future__ import annotations

import base64
import hashlib
import hmac

import orjson
import pytest

from shared.errors import InvalidCursor
from shared.identity import Identity, Role
from shared.pagination import CursorCodec

ME = Identity(subject="cli_mtpe", role=Role.MINISTRY_SYSTEM, organisation_id="mtpe")


def test_round_trip_and_binding() -> None:
    codec = CursorCodec("secret")
    cursor = codec.encode("profiles", {"region": "PE-LMA"}, ["abc", 3], caller=ME)
    assert codec.decode(cursor, "profiles", {"region": "PE-LMA"}, caller=ME) == ["abc", 3]
    with pytest.raises(InvalidCursor):
        codec.decode(cursor, "referrals", {"region": "PE-LMA"}, caller=ME)  # another list
    with pytest.raises(InvalidCursor):
        codec.decode(cursor, "profiles", {"region": "PE-CAL"}, caller=ME)  # other filters
    with pytest.raises(InvalidCursor):
        CursorCodec("other-secret").decode(cursor, "profiles", {"region": "PE-LMA"}, caller=ME)


@pytest.mark.parametrize("other", [
    Identity(subject="cli_mtpe", role=Role.MINISTRY_SYSTEM, organisation_id="sunedu"),
    Identity(subject="cli_otro", role=Role.MINISTRY_SYSTEM, organisation_id="mtpe"),
    Identity(subject="cli_mtpe", role=Role.MINISTRY_SYSTEM, organisation_id="mtpe",
             kind="user"),
])
def test_a_cursor_is_the_callers_own(other: Identity) -> None:
    """Another organisation, another client or person, or a person with a client's subject."""
    codec = CursorCodec("secret")
    cursor = codec.encode("profiles", {}, ["abc"], caller=ME)
    with pytest.raises(InvalidCursor):
        codec.decode(cursor, "profiles", {}, caller=other)
    assert b"cli_mtpe" not in base64.urlsafe_b64decode(cursor + "==")  # no identifier shown


def _legacy(secret: str, position: list[object]) -> bytes:
    key = hashlib.sha256(b"ruta-cursor\0" + secret.encode()).digest()
    body = orjson.dumps({"l": "events", "f": hashlib.sha256(b"{}").hexdigest()[:16],
                         "p": position})
    return body + hmac.new(key, body, hashlib.sha256).digest()[:16]


def test_a_legacy_cursor_is_refused_by_decode_and_marked_by_open() -> None:
    codec = CursorCodec("secret")
    raw = _legacy("secret", [7])
    cursor = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    with pytest.raises(InvalidCursor):
        codec.decode(cursor, "events", {}, caller=ME)
    opened = codec.open(cursor, "events", {}, caller=ME)
    assert (opened.position, opened.legacy) == ([7], True)
    assert not codec.open(codec.encode("events", {}, [7], caller=ME), "events", {},
                          caller=ME).legacy
    # the same bytes spelled another way (the unused low bits of the last base64 letter)
    # are the same cursor: one record of whom it was re-bound to
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    respelled = cursor[:-1] + alphabet[alphabet.index(cursor[-1]) + 1]
    assert respelled != cursor
    assert base64.urlsafe_b64decode(respelled + "=" * (-len(respelled) % 4)) == raw
    assert codec.open(respelled, "events", {}, caller=ME).digest == opened.digest


@pytest.mark.parametrize("garbage", ["", "A", "!!!", "eyJsIjoicHJvZmlsZXMifQ", "x" * 300])
def test_garbage_is_invalid(garbage: str) -> None:
    with pytest.raises(InvalidCursor):
        CursorCodec("secret").decode(garbage, "profiles", {}, caller=ME)
