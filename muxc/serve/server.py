"""Running the gateway: uvicorn (uvloop and httptools when installed) on the configured address.

Startup loads nothing heavy: the config, then the server; backends are made on first use.
SIGINT/SIGTERM (uvicorn's handlers) stop accepting, wait up to ``[serve] drain_timeout`` for
in-flight requests (streams included) to finish, then the lifespan shutdown closes the upstream
clients, flushes the LLM log and stops the managed backends this server started.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from muxc.app.gateway import Gateway


def run(gateway: Gateway) -> int:
    """Serve until interrupted; the exit status."""
    import uvicorn

    from muxc.serve.app import ServeApp

    settings = gateway.settings
    config = uvicorn.Config(ServeApp(gateway), host=settings.host, port=settings.port, log_level="warning",
                            access_log=False, lifespan="on", timeout_graceful_shutdown=int(settings.drain_timeout),
                            server_header=False, date_header=False, ws="none")
    server = _server_class(uvicorn)(config)
    shown = f"[{settings.host}]" if ":" in settings.host else settings.host
    keys = f", {len(settings.keys)} API key(s) required" if settings.keys else ""
    server.banner = f"muxc serve: listening on http://{shown}:{settings.port}{keys} (Ctrl-C stops)\n"
    try:
        server.run()
    except SystemExit:  # uvicorn's way of saying it could not start; it logged why (a port in use)
        sys.stderr.write(f"muxc serve: could not listen on {shown}:{settings.port}; choose another --port\n")
        return 1
    return 0 if server.started else 1


def _server_class(uvicorn: object) -> type:
    class Server(uvicorn.Server):  # type: ignore[name-defined,misc]
        """uvicorn's server, except that SIGINT/SIGTERM end it with status 0 once it drained
        (uvicorn re-raises the signal after its shutdown, which would make the exit look like a crash)."""

        banner = ""

        async def startup(self, sockets: list[Any] | None = None) -> None:
            await super().startup(sockets)
            if self.started:  # bound and listening: now say so
                sys.stderr.write(self.banner)
                sys.stderr.flush()

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            with super().capture_signals():
                yield
                self._captured_signals.clear()

    return Server
