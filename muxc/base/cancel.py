"""Cancelling work in flight: one flag a build sets on Ctrl-C and every wait watches."""

from __future__ import annotations

import threading
import weakref


class Cancel:
    """A build-wide cancellation flag that waits can watch (Ctrl-C sets it).

    ``child()`` makes a flag that is also set when this one is, but can be set on its own: a
    parallel role cancels its remaining backends without cancelling the build."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._children: weakref.WeakSet[Cancel] = weakref.WeakSet()

    def set(self) -> None:
        self._event.set()
        with self._lock:
            children = list(self._children)
        for child in children:
            child.set()

    def child(self) -> Cancel:
        child = Cancel()
        with self._lock:
            self._children.add(child)
        if self.is_set:
            child.set()
        return child

    @property
    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True if cancelled meanwhile."""
        return self._event.wait(max(0.0, seconds))
