"""A backend's concurrency limit: at most ``max_concurrent`` calls in flight across all threads.

The wait for a slot watches the build's cancel flag, and ``in_flight`` is exact at every moment
(tests assert it returns to zero after a stalled request times out).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from muxc.backends.base import BackendError, Cancel

POLL = 0.1  # how often a waiting thread looks at the cancel flag


class Slots:
    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self._semaphore = threading.BoundedSemaphore(limit) if limit else None
        self._lock = threading.Lock()
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @contextmanager
    def hold(self, cancel: Cancel, cancelled: Callable[[], BackendError]) -> Iterator[None]:
        """Hold one slot for the block; raise ``cancelled()`` if interrupted while waiting."""
        if self._semaphore is not None:
            while not self._semaphore.acquire(timeout=POLL):
                if cancel.is_set:
                    raise cancelled()
        with self._lock:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
            if self._semaphore is not None:
                self._semaphore.release()


def limit_for(max_concurrent: int | None, default: int | None) -> int | None:
    """The backend's own limit, else the build-wide default (``[defaults] max_concurrent``)."""
    return max_concurrent or default or None
