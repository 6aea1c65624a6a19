"""/docs and /redoc come whole from the system: a ministry intranet without Internet sees
them. (tests/contract/test_docs_chromium.py renders them in a real browser.)"""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI

from services.registry.app import create_app as create_registry
from shared.settings import Settings

URL = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|url\s*:\s*["']([^"']+)["']""")


def _references(html: str) -> list[str]:
    return [a or b for a, b in URL.findall(html)]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_load_everything_from_the_system(
    client: httpx.AsyncClient, page: str
) -> None:
    resp = await client.get(page)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    assert "http://" not in resp.text
    assert "https://" not in resp.text
    references = _references(resp.text)
    assert "/openapi.json" in references
    assets = [r for r in references if r != "/openapi.json"]
    assert assets, "the page names its script"
    for ref in assets:
        asset = await client.get(ref)
        assert asset.status_code == 200, ref
        assert len(asset.content) > 1000, ref
    # the browser is told to load nothing from elsewhere either
    csp = resp.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'self' 'unsafe-inline'" in csp


async def test_swagger_ui_asks_no_outside_validator(client: httpx.AsyncClient) -> None:
    assert '"validatorUrl": null' in (await client.get("/docs")).text


async def test_only_the_shipped_assets_are_served(client: httpx.AsyncClient) -> None:
    assert (await client.get("/docs/assets/swagger-ui-bundle.js")).headers[
        "content-type"].startswith("text/javascript")
    assert (await client.get("/docs/assets/..%2F__init__.py")).status_code == 404
    assert (await client.get("/docs/assets/core.py")).status_code == 404


async def test_a_service_serves_its_own_docs_offline(settings: Settings) -> None:
    registry: FastAPI = create_registry(settings)
    transport = httpx.ASGITransport(app=registry)
    async with httpx.AsyncClient(transport=transport, base_url="http://registry") as c:
        page = await c.get("/docs")
        assert page.status_code == 200
        assert "https://" not in page.text
        assert (await c.get("/docs/assets/swagger-ui.css")).status_code == 200
        assert (await c.get("/redoc")).status_code == 200
