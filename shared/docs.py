"""The API documentation pages, served whole from this system: Swagger UI at ``/docs`` and
ReDoc at ``/redoc``, with their scripts, style sheet and favicon taken from the pinned
``fastapi-offline`` package (MIT; it ships Swagger UI, Apache 2.0, and ReDoc, MIT — the
licences are in its dist-info). A ministry intranet without Internet sees the operations:
no page names an outside address, and the pages' Content-Security-Policy lets them load
nothing from anywhere else."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, HTMLResponse

ASSETS_URL = "/docs/assets"
ASSETS_DIR = Path(str(files("fastapi_offline") / "static"))
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}
# Same-origin only; inline script and style because both pages boot from an inline script
# and ReDoc styles itself inline; workers from blob: for ReDoc's search.
DOCS_CSP = ("default-src 'none'; script-src 'self' 'unsafe-inline'; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
            "connect-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'")
PAGE_HEADERS = {"content-security-policy": DOCS_CSP, "cache-control": "no-cache"}
ASSET_HEADERS = {"cache-control": "public, max-age=86400"}


def install_docs(app: FastAPI, title: str, openapi_url: str = "/openapi.json") -> None:
    """``/docs`` (with its OAuth2 redirect page), ``/redoc`` and their assets on ``app``."""
    favicon = f"{ASSETS_URL}/favicon.png"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=openapi_url, title=f"{title} — Swagger UI",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css", swagger_favicon_url=favicon,
            oauth2_redirect_url="/docs/oauth2-redirect",
            # no badge fetched from validator.swagger.io
            swagger_ui_parameters={"validatorUrl": None})
        return HTMLResponse(page.body, headers=PAGE_HEADERS)

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        page = get_swagger_ui_oauth2_redirect_html()
        return HTMLResponse(page.body, headers=PAGE_HEADERS)

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        page = get_redoc_html(openapi_url=openapi_url, title=f"{title} — ReDoc",
                              redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
                              redoc_favicon_url=favicon, with_google_fonts=False)
        return HTMLResponse(page.body, headers=PAGE_HEADERS)

    @app.get(ASSETS_URL + "/{name}", include_in_schema=False)
    async def asset(name: str) -> FileResponse:
        if name not in ASSETS:
            raise HTTPException(status_code=404)
        return FileResponse(ASSETS_DIR / name, media_type=ASSETS[name], headers=ASSET_HEADERS)
