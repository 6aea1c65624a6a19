from __future__ import annotations

import pytest

from gateway.edge.routing import RouteTable


@pytest.mark.parametrize(("path", "upstream"), [
    ("/v1/profiles", "registry"),
    ("/v1/profiles/abc", "registry"),
    ("/v1/profiles/abc/export", "registry"),
    ("/v1/profiles/abc/recommendations", "referrals"),
    ("/v1/programs", "referrals"),
    ("/v1/referrals/r1/transitions", "referrals"),
    ("/v1/pathways", "referrals"),
    ("/v1/credentials", "credentials"),
    ("/v1/credentials/c1/vc", "credentials"),
    ("/v1/organisations", "gateway"),
    ("/v1/inbound/sunedu", "gateway"),
    ("/v1/profilesX", None),
    ("/v2/profiles", None),
    ("/healthz", None),
])
def test_paths_go_to_their_owner(path: str, upstream: str | None) -> None:
    route = RouteTable().match(path)
    assert (route.upstream if route else None) == upstream


def test_public_paths_need_no_token() -> None:
    table = RouteTable()
    assert table.match("/v1/credentials/verify").public  # type: ignore[union-attr]
    assert not table.match("/v1/credentials/c1").public  # type: ignore[union-attr]
