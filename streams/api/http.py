"""The HTTP plumbing of `rasid api` and `rasid webhooks`: every error answers one line of JSON
without Python exception text, and a malformed request (a URL or header over aiohttp's 8 KiB
line limit, a bad request line) is one warning in the log, never an error with a traceback
that quotes what the client sent (it may carry a token)."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import orjson
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler

log = logging.getLogger("rasid.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Query parameters whose values are credentials, whatever their spelling's case; and anything
# that looks like an API key token or a stream ticket wherever it appears.
SECRET_PARAMS = frozenset({"access_token", "token", "ticket", "key", "api_key", "secret"})
SECRET_VALUE = re.compile(r"(rsd|tkt)[_.][^&/;\s]*", re.IGNORECASE)
REDACTED = "REDACTED"


def redact_query(pairs: Any) -> str:
    """A query string (decoded name/value pairs) with every credential replaced."""
    out = []
    for name, value in pairs:
        if name.lower() in SECRET_PARAMS:
            value = REDACTED
        out.append((SECRET_VALUE.sub(REDACTED, name), SECRET_VALUE.sub(REDACTED, value)))
    return urlencode(out)


class AccessLog(AbstractAccessLogger):
    """One structured line per request (method, path, status, …), without credentials: token
    query parameters are redacted and neither the Referer nor the Authorization header is
    logged. aiohttp's default logs the whole request line, query string included."""

    def log(self, request: Any, response: web.StreamResponse, time: float) -> None:
        query = redact_query(request.rel_url.query.items()) if request.query_string else ""
        self.logger.info(
            "request",
            extra={
                "method": request.method,
                "path": SECRET_VALUE.sub(REDACTED, request.path),
                "query": query,
                "status": response.status,
                "bytes": response.body_length,
                "seconds": round(time, 4),
                "remote": request.remote,
            },
        )


def error_body(message: str) -> bytes:
    """{"error": …} on one line."""
    return orjson.dumps({"error": " ".join(message.split())})


def json_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=error_body(message), status=status, content_type="application/json", headers=headers
    )


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's own errors (404, 405, 413, …) and unexpected exceptions as one line of JSON;
    the traceback of an unexpected exception goes to the log, never to the client."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() in {"allow", "retry-after"}}
        return json_error(exc.status, exc.reason, headers or None)
    except Exception:
        log.error("request failed", extra={"path": request.path}, exc_info=True)
        return json_error(500, "internal error")


class _Handler(RequestHandler):
    """A connection whose requests that never reached a handler (the parser refused them) or
    failed below the middlewares answer as json_errors does."""

    __slots__ = ()  # the layout of RequestHandler: an instance can be switched to this class

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if isinstance(exc, HttpProcessingError):
            # The client's fault: a warning without the exception's text (it quotes the
            # request, which may carry a token).
            log.warning(
                "malformed request refused",
                extra={"status": status, "reason": type(exc).__name__},
            )
            too_long = "too long" in str(exc).lower() or "more than" in str(exc).lower()
            answer = "request line or header too long" if too_long else "malformed request"
        else:
            log.error("request failed", exc_info=exc)
            status, answer = 500, "internal error"
        if request.writer.output_size > 0:
            raise ConnectionError("response already started")
        response = json_error(status, answer)
        response.force_close()
        return response


class _Server(web.Server):
    def __call__(self) -> RequestHandler:
        handler = super().__call__()
        handler.__class__ = _Handler
        return handler


class Runner(web.AppRunner):
    """web.AppRunner whose connections log requests with AccessLog and answer parser errors
    as _Handler does."""

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        kwargs.setdefault("access_log_class", AccessLog)
        super().__init__(app, **kwargs)

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _Server
        return server
