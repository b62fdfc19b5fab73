"""Backend tests use a real loopback LLM server and a real fake CLI (``tests/support``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from muxc.backends.base import Backend
from muxc.backends.calls import CallLogger
from muxc.backends.identity import http_target
from muxc.backends.registry import create_backend
from muxc.backends.retry import Tuning
from muxc.config.schema import BackendConfig
from tests.support.fixtures import fake_cli, llm_server  # noqa: F401  (fixtures used by name)

# Small bounds so rate-limit scenarios take a second, not a minute: a Retry-After above half a
# second parks the key, and heuristic parks last a fraction of a second.
FAST = Tuning(
    short_wait_max=0.5, heuristic_park=0.2, max_delay=2.0, cli_kill_grace=0.5
)

MakeBackend = Callable[..., Backend]


@pytest.fixture
def make_backend(tmp_path: Path) -> Iterator[MakeBackend]:
    """``make_backend(name="b", environ=…, tuning=…, logger=…, root=…, **BackendConfig fields)``.

    ``environ`` defaults to an empty mapping for HTTP backends (no host key leaks in) and to the
    real environment for CLI ones; ``retry_delay`` defaults to 10 ms to keep retries quick.
    Every backend is closed after the test."""
    created: list[Backend] = []

    def make(
        name: str = "b",
        *,
        environ: dict[str, str] | None = None,
        tuning: Tuning = FAST,
        logger: CallLogger | None = None,
        root: Path | None = None,
        **fields: Any,
    ) -> Backend:
        fields.setdefault("retry_delay", 10)
        config = BackendConfig(name=name, **fields)
        if environ is None and http_target(config) is not None:
            environ = {}
        backend = create_backend(
            config, project_root=root or tmp_path, environ=environ, tuning=tuning, logger=logger
        )
        created.append(backend)
        return backend

    yield make
    for backend in created:
        backend.close()
