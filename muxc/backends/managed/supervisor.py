"""Managed backends: servers muxc starts when a step needs them, switches between, and stops.

A backend with ``[backends.X.managed]`` (or ``type = "local"``, whose server muxc supplies) is
wrapped in a ``ManagedBackend``: each ``complete()`` holds a lease from the build's
``Supervisor`` until the answer has been fully read. The supervisor makes every lifecycle
decision under one lock, so admission and eviction can never race:

- Lazy: nothing starts until a call needs it. Cached steps make no call (their keys come from
  the config alone, ``identity.py``), so a cached build starts nothing.
- Coalesced: one thread runs ``start`` and then polls ``health`` every ``health_interval``
  until it passes, all within ``start_timeout``; every other call for that backend waits.
- Adopted: on the first bring-up in a build, a backend whose ``health`` already passes is used
  as it is and never stopped by muxc (``adopt_running``, the default). Adopted backends take no
  slots: muxc cannot free what it did not start. Except one muxc started in a build that was
  killed before it could stop it (``backends.json`` says which muxc process started it, and that
  process is gone): this build takes it over, and stops it at its end like one it started.
- Capacity: the ``slots`` of the backends muxc started (starting, resident or stopping) never
  exceed ``[resources] slots``. To make room muxc stops a resident backend only when none of
  the in-flight or waiting calls needs it (it has drained), then starts the next one. A batch
  of calls for the resident backend is therefore never interrupted by a switch.
- Failure: a start that fails runs ``stop`` to clean up and is remembered for the rest of the
  build; only the calls for that backend fail, with a message naming the backend, the hook, its
  exit code and the tail of its stderr.
- Revival: a call that cannot reach a server muxc started (connection refused or reset) asks
  whether it died: the local server's process exited, or ``health`` fails. If so, muxc runs
  ``stop`` to clean up, and the call (and every other waiting for that backend) starts it again,
  at most ``MAX_RESTARTS`` times a build. Adopted servers and servers without a ``health`` hook
  are never second-guessed: the call fails as it would have.
- Shutdown (the end of the build, Ctrl-C): stops exactly the backends muxc started, unless they
  are ``keep_running``. It runs once, from whichever thread gets there first, and it is safe to
  re-enter from a signal handler.

Hooks run with ``sh -c`` through ``muxc.base.process.run`` in the project root, with the parent's
environment plus MUXC_BACKEND, MUXC_MODEL, MUXC_PORT, MUXC_BASE_URL and MUXC_RUN_ID. A hook that
outlives its timeout has its whole process group killed. ``process.run`` also kills whatever a
finished ``stop`` or ``health`` hook left in its process group; a finished ``start`` hook's
background processes are left alone (that is the server), and should be detached with their
output redirected (``setsid … > log 2>&1 &``, a container runtime, a service manager) so that
they hold none of muxc's pipes.

Start costs (seconds from running ``start`` to the first passing ``health``) are kept per
backend in ``.muxc/state/backends.json`` as an exponential moving average (α = 0.3, the first
observation taken as it is); see ``CostBook``.
"""


from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from muxc.backends.base import (
    Backend,
    BackendError,
    BackendWrapper,
    Cancel,
    Completion,
    CompletionRequest,
    ProgressCallback,
)
from muxc.backends.managed.costs import CostBook
from muxc.backends.managed.hooks import Lifecycle, Settings, how_it_ended, indented
from muxc.base.process import ProcessResult
from muxc.base.text import plural

STOPPED, STARTING, RUNNING, STOPPING = "stopped", "starting", "running", "stopping"
POLL_S = 0.1  # how often a waiting call looks at the cancel flag
SETTLE_S = 10.0  # how long shutdown waits for an interrupted start to give up
MAX_RESTARTS = 2  # per backend and build: a server that keeps dying is reported, not restarted forever


@dataclass
class _Entry:
    """One managed backend's state in this build. Fields are guarded by the supervisor's lock,
    except ``op_lock``, which serialises the backend's own start and stop hooks."""

    name: str
    hooks: Lifecycle
    settings: Settings
    env: dict[str, str]
    state: str = STOPPED
    in_flight: int = 0
    waiting: int = 0
    adopted: bool = False
    taken_over: bool = False  # found running, left by a killed build: stopped at the end like our own
    tried: bool = False  # brought up once in this build: adoption is decided only then
    needs_stop: bool = False  # muxc ran start since the last stop, so stopping it is muxc's job
    failure: BackendError | None = None
    last_used: float = 0.0
    starts: list[float] = field(default_factory=list)  # seconds to healthy, this build
    stops: int = 0
    restarts: int = 0  # started again after its server died mid-build
    generation: int = 0  # one more each time it is found dead: calls leased before know to retry
    stop_problems: list[str] = field(default_factory=list)
    op_lock: threading.Lock = field(default_factory=threading.Lock)
    op_owner: int | None = None  # the thread running a hook of this backend's now
    starter: int | None = None  # the thread bringing it up now

    @property
    def holds_slots(self) -> bool:
        return self.state in (STARTING, RUNNING, STOPPING) and not self.adopted

    @property
    def idle(self) -> bool:
        return self.state == RUNNING and self.in_flight == 0 and self.waiting == 0


class Supervisor:
    """The build's managed backends: who is resident, who starts next, what to stop at the end."""

    def __init__(self, capacity: int = 1, *, costs: CostBook | None = None) -> None:
        self.capacity = max(1, capacity)
        self.costs = costs or CostBook(None)
        self.switches = 0
        self._cond = threading.Condition()
        self._entries: dict[str, _Entry] = {}
        self._closing = False
        self._summarised = False

    def register(self, name: str, hooks: Lifecycle, settings: Settings, env: Mapping[str, str]) -> None:
        """Add a backend; the first registration of a name wins (one instance per build)."""
        with self._cond:
            self._entries.setdefault(name, _Entry(name, hooks, settings, dict(env)))

    def state(self, name: str) -> str:
        with self._cond:
            return self._entries[name].state

    @contextlib.contextmanager
    def lease(self, name: str, cancel: Cancel) -> Iterator[int]:
        """Hold ``name`` resident for the block: start it (or wait for it) first. Yields the
        server's generation, for ``revive``."""
        entry = self._entries[name]
        self._acquire(entry, cancel)
        try:
            yield entry.generation
        finally:
            with self._cond:
                entry.in_flight -= 1
                entry.last_used = time.monotonic()
                self._cond.notify_all()

    # -- admission ---------------------------------------------------------------------------

    def _acquire(self, entry: _Entry, cancel: Cancel) -> None:
        with self._cond:
            entry.waiting += 1
        try:
            while (victims := self._admit_or_claim(entry, cancel)) is not None:
                self._switch(entry, victims, cancel)
        finally:
            with self._cond:
                entry.waiting -= 1
                self._cond.notify_all()

    def _admit_or_claim(self, entry: _Entry, cancel: Cancel) -> list[_Entry] | None:
        """None once the call is admitted; else the backends this thread must stop before it
        starts ``entry`` (it has claimed the switch). Waits while neither is possible."""
        with self._cond:
            while True:
                self._check_usable(entry, cancel)
                if entry.state == RUNNING:
                    entry.in_flight += 1
                    return None
                if entry.state == STOPPED:
                    victims = self._room_for(entry)
                    if victims is not None:
                        entry.state, entry.starter = STARTING, threading.get_ident()
                        for victim in victims:
                            victim.state = STOPPING
                        return victims
                self._cond.wait(POLL_S)

    def _check_usable(self, entry: _Entry, cancel: Cancel) -> None:
        if entry.failure is not None:
            raise entry.failure
        if cancel.is_set:
            raise BackendError("cancelled", entry.name, "interrupted while waiting for the backend to start")
        if self._closing:
            raise BackendError("cancelled", entry.name, "the build is ending; managed backends are being stopped")
        if entry.settings.slots > self.capacity:
            entry.failure = BackendError(
                "config", entry.name,
                f"backend {entry.name!r} needs {entry.settings.slots} slots but at most {self.capacity} may be "
                "resident; raise [resources] slots or lower the backend's managed.slots")
            raise entry.failure

    def _room_for(self, entry: _Entry) -> list[_Entry] | None:
        """The idle resident backends to stop so ``entry`` fits (least recently used first), or
        None while the backends holding slots are still needed."""
        free = self.capacity - sum(e.settings.slots for e in self._entries.values() if e.holds_slots)
        victims = []
        for candidate in sorted((e for e in self._entries.values() if e.idle and not e.adopted),
                                key=lambda e: e.last_used):
            if free >= entry.settings.slots:
                break
            victims.append(candidate)
            free += candidate.settings.slots
        return victims if free >= entry.settings.slots else None

    def revive(self, name: str, generation: int, cancel: Cancel) -> bool:
        """After a call leased at ``generation`` could not reach ``name``'s server: True when the
        server had died and is being started again, so the call may lease it again."""
        entry = self._entries[name]
        with self._cond:
            if self._closing or entry.adopted:
                return False
            if entry.generation != generation:  # another call found it dead first
                return True
            if entry.state != RUNNING or entry.restarts >= MAX_RESTARTS:
                return False
        if not self._died(entry, cancel):
            return False
        with self._cond:
            if entry.generation != generation:
                return True
            entry.state, entry.restarts, entry.generation = STOPPING, entry.restarts + 1, generation + 1
        self._stop(entry)  # whatever is left of it, and its slot
        return True

    def _died(self, entry: _Entry, cancel: Cancel) -> bool:
        if entry.hooks.exited() is not None:
            return True
        if not entry.hooks.has("health"):
            return False
        return not entry.hooks.run("health", entry.env, entry.settings.health_timeout, cancel).ok

    # -- switching ---------------------------------------------------------------------------

    def _switch(self, entry: _Entry, victims: list[_Entry], cancel: Cancel) -> None:
        try:
            for victim in victims:
                self._stop(victim)
            if victims:
                with self._cond:
                    self.switches += 1
            self._bring_up(entry, cancel)
        finally:
            with self._cond:
                if entry.state == STARTING:  # it failed or was interrupted
                    entry.state = STOPPED
                entry.starter = None
                self._cond.notify_all()

    def _bring_up(self, entry: _Entry, cancel: Cancel) -> None:
        if self._adoptable(entry, cancel):
            orphan = self.costs.orphaned(entry.name)
            with self._cond:
                entry.state = RUNNING
                entry.adopted, entry.taken_over, entry.needs_stop = not orphan, orphan, orphan
            if orphan:
                self.costs.mark_running(entry.name, True)
            return
        try:
            seconds = self._start(entry, cancel)
        except _StartFailed as failed:
            raise self._failed_start(entry, failed) from None
        with self._cond:
            entry.state = RUNNING
            entry.starts.append(seconds)
        self.costs.record(entry.name, seconds)

    def _adoptable(self, entry: _Entry, cancel: Cancel) -> bool:
        """On the first bring-up only: a backend that is already healthy is used as it is."""
        with self._cond:
            first, entry.tried = not entry.tried, True
        if not (first and entry.settings.adopt_running and entry.hooks.has("health")):
            return False
        return entry.hooks.run("health", entry.env, entry.settings.health_timeout, cancel).ok

    def _start(self, entry: _Entry, cancel: Cancel) -> float:
        """Run ``start``, then poll ``health`` until it passes; seconds from start to healthy."""
        limit = entry.settings.start_timeout
        began = time.monotonic()
        if cancel.is_set:  # interrupted while waiting for the switch: start nothing
            raise BackendError("cancelled", entry.name, "interrupted before the backend was started")
        with self._cond:
            entry.needs_stop = True  # from here on, whatever start began is muxc's to stop
        self.costs.mark_running(entry.name, True)  # a build killed from here on leaves it to the next
        if entry.hooks.has("start"):
            with self._operation(entry):
                result = entry.hooks.run("start", entry.env, limit, cancel)
            if not result.ok:
                raise _StartFailed("start", result, f"{entry.hooks.label('start')} {how_it_ended(result, limit, 'start')}")
        self._await_health(entry, began + limit, cancel)
        return time.monotonic() - began

    def _await_health(self, entry: _Entry, deadline: float, cancel: Cancel) -> None:
        if not entry.hooks.has("health"):
            return
        settings = entry.settings
        while True:
            exited = entry.hooks.exited()
            if exited is not None:
                how = how_it_ended(exited, settings.start_timeout, "start") + " before it was ready"
                raise _StartFailed("start", exited, f"{entry.hooks.label('start')} {how}")
            remaining = deadline - time.monotonic()
            result = entry.hooks.run("health", entry.env, max(0.05, min(settings.health_timeout, remaining)), cancel)
            if result.ok:
                return
            if cancel.is_set:
                raise BackendError("cancelled", entry.name, "interrupted while waiting for the backend to become healthy")
            if time.monotonic() + settings.health_interval > deadline:
                last = result.error or (how_it_ended(result, settings.health_timeout, "health") if result.stopped
                                        else f"exit code {result.exit_code}")
                raise _StartFailed("health", result, f"{entry.hooks.label('health')} did not pass within "
                                   f"{settings.start_timeout:g}s of starting (start_timeout); last check: {last}")
            cancel.wait(settings.health_interval)

    def _failed_start(self, entry: _Entry, failed: _StartFailed) -> BackendError:
        """The error for a failed start. Unless the build was interrupted (the shutdown stops it
        then), ``stop`` runs first to clean up: a half-started server must not hold the slot. The
        failure is remembered, so every later call for this backend fails the same way at once."""
        hook, result = failed.hook, failed.result
        if result.stopped == "cancelled":
            return BackendError("cancelled", entry.name, f"interrupted while running {entry.hooks.label(hook)}")
        lines = [f"backend {entry.name!r} did not start: {failed.headline}"]
        tail = result.stderr_tail(lines=20)
        if tail:
            lines.append("stderr ends:\n" + indented(tail))
        cleanup = self._stop(entry)
        if entry.hooks.has("stop"):
            stop = entry.hooks.label("stop")
            lines.append(f"muxc ran {stop} to clean up." if cleanup is None or cleanup.ok else
                         f"Cleaning up, {stop} failed too ({how_it_ended(cleanup, entry.settings.stop_timeout, 'stop')}).")
        advice = entry.hooks.advice(hook, result)
        if advice:
            lines.append(advice[0].upper() + advice[1:] + ".")
        error = BackendError("unavailable", entry.name, "\n".join(lines), exit_code=result.exit_code,
                             stderr_tail=tail or None)
        with self._cond:
            entry.failure = error
        return error

    def _stop(self, entry: _Entry) -> ProcessResult | None:
        """Run ``stop`` (never cancelled by the build: a stop must finish) and mark it stopped."""
        with self._operation(entry):
            return self._stop_locked(entry)

    def _stop_locked(self, entry: _Entry) -> ProcessResult | None:
        result = None
        if entry.hooks.has("stop"):
            result = entry.hooks.run("stop", entry.env, entry.settings.stop_timeout, None)
        self.costs.mark_running(entry.name, False)
        with self._cond:
            entry.state, entry.needs_stop = STOPPED, False
            entry.stops += 1
            if result is not None and not result.ok:
                entry.stop_problems.append(how_it_ended(result, entry.settings.stop_timeout, "stop"))
            self._cond.notify_all()
        return result

    @contextlib.contextmanager
    def _operation(self, entry: _Entry, timeout: float = -1) -> Iterator[bool]:
        """Hold ``entry``'s hook lock (its start and stop never overlap); yields False if it
        could not be had within ``timeout`` seconds."""
        if not entry.op_lock.acquire(timeout=timeout):
            yield False
            return
        entry.op_owner = threading.get_ident()
        try:
            yield True
        finally:
            entry.op_owner = None
            entry.op_lock.release()

    # -- the gateway's controls (muxc serve: /running, /unload, ttl) ------------------------------

    def residents(self) -> list[dict[str, Any]]:
        """Each registered backend's state, in-flight and waiting calls, and idle seconds."""
        now = time.monotonic()
        with self._cond:
            return [{"backend": e.name, "state": e.state, "in_flight": e.in_flight, "waiting": e.waiting,
                     "adopted": e.adopted, "idle_s": round(now - e.last_used, 3) if e.idle and e.last_used else 0.0}
                    for e in self._entries.values()]

    def unload(self, name: str, idle_for: float = 0.0) -> bool:
        """Stop ``name`` if muxc started it and it has been idle (nothing in flight or waiting) for
        ``idle_for`` seconds; True when it was stopped. A busy backend is left alone."""
        entry = self._entries.get(name)
        if entry is None:
            return False
        with self._cond:
            idle_long = entry.idle and time.monotonic() - entry.last_used >= idle_for
            if not (idle_long and entry.needs_stop and not entry.adopted):
                return False
            entry.state = STOPPING
        self._stop(entry)
        return True

    # -- the end of the build ----------------------------------------------------------------

    def shutdown(self) -> list[str]:
        """Stop every backend muxc started (not ``keep_running``); notes for the build, once.

        Safe from any thread: a second caller waits for the stops already under way, then stops
        what is left. Re-entered from a signal handler (the forced exit, which never returns to
        the interrupted hook) it stops even the backend whose hook that thread was running."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._settle_starts()
        for entry in self._to_stop():
            if entry.op_owner == threading.get_ident():
                if entry.needs_stop:  # this thread already holds its lock, in the interrupted frame
                    self._stop_locked(entry)
                continue
            # another thread may be stopping it already: wait for that, then stop only if needed
            with self._operation(entry, timeout=entry.settings.stop_timeout + 5) as held:
                if held and entry.needs_stop:
                    self._stop_locked(entry)
        for entry in self._kept_running():  # left running on purpose: the next build adopts it
            self.costs.mark_running(entry.name, False)
        return self._summary()

    def _settle_starts(self) -> None:
        """An interrupted start gives up within moments (its hook is killed); wait for that, so
        its stop never runs beside it."""
        deadline = time.monotonic() + SETTLE_S
        with self._cond:
            me = threading.get_ident()
            while any(e.state == STARTING and e.starter != me for e in self._entries.values()):
                if time.monotonic() > deadline:
                    break
                self._cond.wait(POLL_S)

    def _to_stop(self) -> list[_Entry]:
        with self._cond:
            return [e for e in self._entries.values() if e.needs_stop and not e.settings.keep_running]

    def _kept_running(self) -> list[_Entry]:
        with self._cond:
            return [e for e in self._entries.values() if e.needs_stop and e.settings.keep_running]

    def _summary(self) -> list[str]:
        with self._cond:
            if self._summarised:
                return []
            self._summarised = True
            entries = [e for e in self._entries.values() if e.tried]
        notes = [self._note(entry) for entry in entries]
        if self.switches:
            switches = f"{self.switches} switch{'es' if self.switches != 1 else ''}"
            notes.append(f"managed backends: {switches} ([resources] slots = {self.capacity})")
        return notes

    def _note(self, entry: _Entry) -> str:
        if entry.adopted:
            return f"backend {entry.name}: already running and healthy, so used as it is and left running"
        if entry.taken_over and not entry.starts:
            kept = "left running (keep_running)" if entry.settings.keep_running else "stopped"
            return f"backend {entry.name}: still running from a build that was killed, so taken over; {kept}"
        if entry.failure is not None and not entry.starts:
            return f"backend {entry.name}: failed to start (see the failed steps)"
        cost = self.costs.get(entry.name)
        count = len(entry.starts)
        started = (f"started {'once' if count == 1 else f'{count} times'} "
                   f"({', '.join(f'{s:.1f}s' for s in entry.starts)})" if count else "start interrupted")
        average = f"; average start {cost.average_s:.1f}s over {plural(cost.starts, 'start')}" if cost else ""
        if entry.restarts:
            times = "once" if entry.restarts == 1 else f"{entry.restarts} times"
            average += f"; its server died and was started again {times}"
        if entry.settings.keep_running and entry.needs_stop:
            end = "left running (keep_running)"
        else:
            end = "stopped" + (f" (stop hook: {'; '.join(entry.stop_problems)})" if entry.stop_problems else "")
        return f"backend {entry.name}: {started}{average}; {end}"


class _StartFailed(Exception):
    """A start that did not come up: which hook, its result, and what happened in words."""

    def __init__(self, hook: str, result: ProcessResult, headline: str) -> None:
        super().__init__(headline)
        self.hook, self.result, self.headline = hook, result, headline


class ManagedBackend(BackendWrapper):
    """A backend whose server the supervisor runs: each call holds a lease until answered."""

    def __init__(self, inner: Backend, supervisor: Supervisor) -> None:
        super().__init__(inner)
        self._supervisor = supervisor

    def complete(
        self, request: CompletionRequest, cancel: Cancel, on_progress: ProgressCallback | None = None
    ) -> Completion:
        # inner.complete returns only once the whole answer (a stream included) has been read,
        # so the lease covers exactly the time the server is needed
        generation = 0
        try:
            with self._supervisor.lease(self.name, cancel) as generation:
                return self.inner.complete(request, cancel, on_progress)
        except BackendError as error:
            if error.kind != "connection" or not self._supervisor.revive(self.name, generation, cancel):
                raise
        with self._supervisor.lease(self.name, cancel):  # its server died: started again, asked again
            return self.inner.complete(request, cancel, on_progress)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.inner, attribute)
