from __future__ import annotations

import pytest

from shared.errors import InvalidCursor
from shared.pagination import CursorCodec


def test_round_trip_and_binding() -> None:
    codec = CursorCodec("secret")
    cursor = codec.encode("profiles", {"region": "PE-LMA"}, ["abc", 3])
    assert codec.decode(cursor, "profiles", {"region": "PE-LMA"}) == ["abc", 3]
    with pytest.raises(InvalidCursor):
        codec.decode(cursor, "referrals", {"region": "PE-LMA"})  # another list
    with pytest.raises(InvalidCursor):
        codec.decode(cursor, "profiles", {"region": "PE-CAL"})  # other filters
    with pytest.raises(InvalidCursor):
        CursorCodec("other-secret").decode(cursor, "profiles", {"region": "PE-LMA"})


@pytest.mark.parametrize("garbage", ["", "A", "!!!", "eyJsIjoicHJvZmlsZXMifQ", "x" * 300])
def test_garbage_is_invalid(garbage: str) -> None:
    with pytest.raises(InvalidCursor):
        CursorCodec("secret").decode(garbage, "profiles", {})
