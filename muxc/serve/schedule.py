"""Switching managed backends in batches by model, in front of the supervisor.

The supervisor (through ``Gateway.lease``) already never stops a backend that an in-flight or
waiting call needs, so a request for a resident backend joins the batch being served. This gate
adds the two decisions the supervisor leaves to whoever asks first:

- Which backend comes next: a request for a backend that is not resident waits here until a switch
  could happen now (free slots, or a resident that has drained); then only the backend with the most
  queued work per second of measured switch cost may ask the supervisor (ties: the oldest request),
  so the choice is made with everything queued by then. A switch serves as much as it can for its cost.
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

    def _may_go(self, name: str, arrived: float) -> bool:
        residents = self.gateway.residents()
        resident = {r["backend"] for r in residents if r["state"] in ("running", "starting")}
        now = time.monotonic()
        starving = [other for other, times in self.queued.items()
                    if other != name and other not in resident and times and now - min(times) > self.max_wait]
        if name in resident:
            return not starving
        candidates = [other for other, times in self.queued.items() if times and other not in resident]
        # decided when a switch can happen, not when the request arrived: by then more may have queued
        return (not candidates or self._best(candidates) == name) and self._room_now(name, residents)

    def _room_now(self, name: str, residents: list[dict]) -> bool:
        """Whether ``name`` could be started now: free slots, or a resident that has drained (one that
        can never fit goes on, for the supervisor to refuse with a message)."""
        if self.gateway.slots_of(name) > self.gateway.capacity:
            return True
        held = sum(self.gateway.slots_of(r["backend"]) for r in residents
                   if r["state"] in ("running", "starting", "stopping") and not r["adopted"])
        if self.gateway.capacity - held >= self.gateway.slots_of(name):
            return True
        return any(r["state"] == "running" and not r["adopted"] and r["in_flight"] == 0 and r["waiting"] == 0
                   for r in residents)

    def _best(self, candidates: list[str]) -> str:
        def score(name: str) -> tuple[float, float]:
            work = len(self.queued[name]) / max(0.05, self.gateway.switch_cost(name))
            return (work, -min(self.queued[name]))

        now = time.monotonic()
        overdue = [c for c in candidates if now - min(self.queued[c]) > self.max_wait]
        if overdue:  # the longest-waiting overdue backend goes first, whatever its score
            return min(overdue, key=lambda c: min(self.queued[c]))
        return max(candidates, key=score)
