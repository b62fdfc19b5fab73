"""Switching managed backends in batches by model, in front of the supervisor.

The supervisor (through ``Gateway.lease``) already never stops a backend that an in-flight or
waiting call needs, so a request for a resident backend joins the batch being served. This gate
adds the two decisions the supervisor leaves to whoever asks first:

- Which backend comes next: among backends with queued requests that are not resident, only the
  one with the most queued work per second of measured switch cost may ask the supervisor (ties:
  the oldest request); the others wait. So a switch serves as much as it can for what it costs.
- ``max_wait`` against starvation: once a queued request has waited longer than that, requests
  for the resident backends stop joining their batches, so those drain and the starving backend
  is switched in.

Waiters wake on every admission and release (an ``asyncio.Condition``), and at the moment the
oldest waiter's ``max_wait`` expires; there is no polling loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from muxc.app.gateway import Gateway
from muxc.base.cancel import Cancel


class SwitchScheduler:
    def __init__(self, gateway: Gateway, max_wait: float) -> None:
        self.gateway = gateway
        self.max_wait = max_wait
        self.queued: dict[str, list[float]] = {}  # backend -> arrival times (time.monotonic)
        self._changed = asyncio.Condition()

    def depth(self, name: str) -> int:
        return len(self.queued.get(name, ()))

    async def admit(self, name: str, cancel: Cancel) -> Callable[[], None]:
        """Wait for ``name``'s turn, then hold it resident; returns the release."""
        arrived = time.monotonic()
        self.queued.setdefault(name, []).append(arrived)
        try:
            async with self._changed:
                while not self._may_go(name, arrived):
                    await self._wait_change()
            release = await self.gateway.lease(name, cancel)
        finally:
            self.queued[name].remove(arrived)
            await self._notify()

        def done() -> None:
            release()
            asyncio.get_running_loop().create_task(self._notify())

        return done

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _wait_change(self) -> None:
        oldest = min((t for times in self.queued.values() for t in times), default=None)
        timeout = None
        if oldest is not None:
            timeout = max(0.01, oldest + self.max_wait - time.monotonic())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    def _resident(self) -> set[str]:
        return {r["backend"] for r in self.gateway.residents() if r["state"] in ("running", "starting")}

    def _may_go(self, name: str, arrived: float) -> bool:
        resident = self._resident()
        now = time.monotonic()
        starving = [other for other, times in self.queued.items()
                    if other != name and other not in resident and times and now - min(times) > self.max_wait]
        if name in resident:
            return not starving
        candidates = [other for other, times in self.queued.items() if times and other not in resident]
        return not candidates or self._best(candidates) == name

    def _best(self, candidates: list[str]) -> str:
        def score(name: str) -> tuple[float, float]:
            work = len(self.queued[name]) / max(0.05, self.gateway.switch_cost(name))
            return (work, -min(self.queued[name]))

        now = time.monotonic()
        overdue = [c for c in candidates if now - min(self.queued[c]) > self.max_wait]
        if overdue:  # the longest-waiting overdue backend goes first, whatever its score
            return min(overdue, key=lambda c: min(self.queued[c]))
        return max(candidates, key=score)
