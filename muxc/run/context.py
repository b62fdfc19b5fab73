"""What one build carries: the plan, the project, the config, the cache, backends and step states.

A ``Build`` is created per ``muxc build`` (or ``status``, ``--dry-run``) and shared by the worker
threads; the per-step states are the only thing they write concurrently, under ``lock``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from muxc.base.cancel import Cancel

if TYPE_CHECKING:  # types only: the no-op fast path and the reporters use StepState without the engine
    from muxc.compile.plan import Plan, StepPlan
    from muxc.config.schema import Config
    from muxc.run.events import Reporter
    from muxc.run.fingerprint import Fingerprinter
    from muxc.store.records import StepRecord
    from muxc.store.results import ResultStore

# How a step ended in this build. INTERRUPTED: it was running when Ctrl-C (or a kill) stopped the
# build; NOT_REACHED: it never started.
PENDING, RUNNING, CACHED, RAN, FAILED, SKIPPED, NOT_REACHED, INTERRUPTED = (
    "pending", "running", "cached", "ran", "failed", "skipped", "not reached", "interrupted")


@dataclass(frozen=True)
class BuildOptions:
    jobs: int = 4  # 0: take [defaults] jobs from the config (else 4)
    force: bool = False
    refresh: frozenset[str] = frozenset()
    keep_going: bool = False
    replay: bool = False  # serve everything from the cache; a miss is a failure
    dry_run: bool = False  # decide and render, run nothing
    max_cost: float | None = None
    max_calls: int | None = None
    answers: Mapping[str, str] = field(default_factory=dict)  # --input NAME=VALUE
    interactive: bool = False
    team: str | None = None
    model: str | None = None  # -m: every role answered by this backend or role, for this run
    routes: Mapping[str, str] = field(default_factory=dict)  # --role ROLE=BACKEND (or =ROLE)
    # the answers come from elsewhere (``muxc test``'s scripted answers and cassettes), not from
    # the configured backends: whether those could answer is no reason to stop (no pre-flight)
    answers_elsewhere: bool = False
    # beyond one machine (docs/distributed.md); None: from [cache] and [executor] in the config
    remote: str | None = None  # --remote URL: the shared cache
    push: bool | None = None  # --no-push: False (read the remote, never write it)
    executor: str | None = None  # --executor local|dask
    scheduler: str | None = None  # --scheduler tcp://HOST:8786

    def forces(self, step: str) -> bool:
        return self.force or step in self.refresh


@dataclass
class StepState:
    status: str = PENDING
    record: StepRecord | None = None
    output_digest: str = ""
    reason: str = ""  # why it ran (or would run)
    failure: Any = None  # a StepFailure when it failed
    started: float = 0.0
    finished: float = 0.0
    key: str = ""
    cost_usd: float | None = None
    rendered: dict[str, str] = field(default_factory=dict)
    components: dict[str, Any] = field(default_factory=dict)
    asking: str = ""  # a query being asked: its backends (for the live view)
    streamed: int = 0  # characters of the answer received so far (for the live view)

    @property
    def duration_ms(self) -> int:
        return int((self.finished - self.started) * 1000) if self.finished else 0


@dataclass
class Build:
    plan: Plan
    root: Path
    state_dir: Path
    environ: Mapping[str, str]
    config: Config
    store: ResultStore
    fingerprints: Fingerprinter
    reporter: Reporter
    options: BuildOptions = field(default_factory=BuildOptions)
    team: Any = None  # run.templating.TeamView or None
    ecosystem: Any = None  # plain dict for templates, or None
    ecosystem_name: str | None = None
    backends: Any = None  # backends.registry.BackendPool, created on first query
    llm_log: Any = None
    data_dir: Path | None = None
    cancel: Cancel = field(default_factory=Cancel)
    states: dict[str, StepState] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # notified when a call settles (``end_call``): an interrupted build waits for its calls to be
    # logged before it closes the LLM log
    settled: threading.Condition = field(init=False, repr=False)
    started: float = field(default_factory=time.time)
    calls: int = 0
    calls_in_flight: int = 0  # claimed by start_call, not yet settled
    cost_usd: float = 0.0
    targets: dict[str, Path] = field(default_factory=dict)  # step -> saved output file
    refused_saves: dict[str, str] = field(default_factory=dict)  # step -> why its rendered save path is refused
    seen_trees: set[str] = field(default_factory=set)
    answers: dict[str, str] = field(default_factory=dict)  # input steps answered in this build
    timed_out: bool = False  # the workflow's timeout passed
    memo: dict[Any, Any] = field(default_factory=dict)  # per-build lookups worth doing once
    latest: dict[str, Any] = field(default_factory=dict)  # step -> store.results.Latest, read at the start
    saved: dict[str, Any] = field(default_factory=dict)  # relative path -> store.results.SavedFile, likewise
    # where query and shell steps run when not here (run.distributed.DaskExecutor); None: here
    executor: Any = None
    _plans: dict[str, StepPlan] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.settled = threading.Condition(self.lock)
        for step in self.plan.steps:
            self.states.setdefault(step.name, StepState())
        self._plans = {step.name: step for step in self.plan.steps}

    def state(self, name: str) -> StepState:
        return self.states[name]

    def step(self, name: str) -> StepPlan:
        return self._plans[name]

    def start_call(self) -> str | None:
        """Claim one LLM call within the budget: None when claimed (``end_call`` settles it), else
        why not. Claims count against --max-calls at once, so parallel steps cannot all pass the
        check before any of them has been counted."""
        with self.lock:
            blocked = self._blocked(self.calls + self.calls_in_flight)
            if blocked is None:
                self.calls_in_flight += 1
            return blocked

    def end_call(self, calls: int, cost: float | None) -> None:
        with self.lock:
            self.calls_in_flight -= 1
            self.calls += calls
            self.cost_usd += cost or 0.0
            self.settled.notify_all()

    def wait_for_calls(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` seconds) until no LLM call is in flight; True when none is."""
        with self.lock:
            return self.settled.wait_for(lambda: self.calls_in_flight == 0, timeout)

    def budget_left(self) -> str | None:
        """Why no new LLM call may start (a budget or gate is exhausted), or None."""
        with self.lock:
            return self._blocked(self.calls + self.calls_in_flight)

    def _blocked(self, calls: int) -> str | None:
        limits = self.options
        max_usd = limits.max_cost if limits.max_cost is not None else self.config.budget.max_usd
        max_calls = limits.max_calls if limits.max_calls is not None else self.config.budget.max_calls
        if max_usd is not None and self.cost_usd >= max_usd:
            return f"the cost limit of ${max_usd:.2f} is reached (${self.cost_usd:.2f} spent)"
        if max_calls is not None and calls >= max_calls:
            return f"the limit of {max_calls} LLM calls is reached"
        return None
