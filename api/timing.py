"""Every answer says how long the service took over it, in a ``Server-Timing`` header (``app;dur=3.1``,
milliseconds from the request reaching the app to its answer starting): a caller, and
bench/api_load.py, can tell the service's time from the network's and its own."""

from __future__ import annotations

import time


class ServerTiming:
    """Pure ASGI (no per-request task or stream, unlike Starlette's BaseHTTPMiddleware)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()

        async def timed(message):
            if message["type"] == "http.response.start":
                took = f"app;dur={(time.perf_counter() - started) * 1000:.1f}".encode()
                message = {**message, "headers": [*message.get("headers", []), (b"server-timing", took)]}
            await send(message)

        await self.app(scope, receive, timed)
