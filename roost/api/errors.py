"""Translate every error into ``{"error": {"code", "message"}}`` with the right status."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from roost.errors import RoostError

log = logging.getLogger("roost.api")


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None
                   ) -> JSONResponse:
    """The standard error body."""
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status,
                        headers=headers)


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{loc or 'request'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


# Renders an error as a page for a browser: (request, status, message) -> response.
HtmlErrors = Callable[[Request, int, str], Response]


def _wants_html(request: Request) -> bool:
    """A browser asking for a page (never the API, the OTLP ingest or a script)."""
    return (not request.url.path.startswith(("/api/", "/v1/"))
            and "text/html" in request.headers.get("accept", ""))


def install(app: FastAPI, html: HtmlErrors | None = None) -> None:
    """Register Roost's exception handlers on ``app``; ``html`` renders them for browsers."""

    @app.exception_handler(RoostError)
    async def roost_error(request: Request, exc: RoostError) -> Response:
        if exc.status >= 500:
            log.error("%s: %s", exc.code, exc.message)
        if html is not None and _wants_html(request):
            return html(request, exc.status, exc.message)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return error_response(exc.status, exc.code, exc.message, headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_input", _describe_validation(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        if html is not None and _wants_html(request):
            return html(request, exc.status_code, str(exc.detail))
        return error_response(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return error_response(500, "internal", f"internal error: {exc.__class__.__name__}")
