"""Running the gateway: uvicorn (uvloop and httptools when installed) on the configured address.

Startup loads nothing heavy: the config, then the server; backends are made on first use.
SIGINT/SIGTERM (uvicorn's handlers) stop accepting, wait up to ``[serve] drain_timeout`` for
in-flight requests (streams included) to finish, then the lifespan shutdown closes the upstream
clients, flushes the LLM log and stops the managed backends this server started.
"""

from __future__ import annotations

import sys

from muxc.app.gateway import Gateway


def run(gateway: Gateway) -> int:
    """Serve until interrupted; the exit status."""
    import uvicorn

    from muxc.serve.app import ServeApp

    settings = gateway.settings
    config = uvicorn.Config(ServeApp(gateway), host=settings.host, port=settings.port, log_level="warning",
                            access_log=False, lifespan="on", timeout_graceful_shutdown=int(settings.drain_timeout),
                            server_header=False, date_header=False)
    server = uvicorn.Server(config)
    shown = f"[{settings.host}]" if ":" in settings.host else settings.host
    keys = f", {len(settings.keys)} API key(s) required" if settings.keys else ""
    sys.stderr.write(f"muxc serve: listening on http://{shown}:{settings.port}{keys} (Ctrl-C stops)\n")
    sys.stderr.flush()
    server.run()
    return 0 if server.started else 1
