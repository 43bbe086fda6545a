"""Swagger UI at /docs, served from our own assets: pages never load code from a CDN."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles

ASSETS_PATH = "/docs-assets"


def install_docs(app: FastAPI, swagger_dist: Path) -> None:
    if not (swagger_dist / "swagger-ui-bundle.js").exists():

        @app.get("/docs", include_in_schema=False)
        def docs_missing() -> PlainTextResponse:
            return PlainTextResponse(
                f"The API documentation's assets are not installed in {swagger_dist}. "
                "Run `make install` (it runs `npm ci`), or read /openapi.json directly.",
                status_code=503,
            )

        return

    app.mount(ASSETS_PATH, StaticFiles(directory=swagger_dist), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            oauth2_redirect_url="/docs/oauth2-redirect",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
