"""What crosses the wire between the coordinator and the workers.

``BuildSpec`` goes to every worker once per build (scattered); ``StepTask`` once per step that
runs; ``WorkerOutcome`` comes back. The environment a worker's steps see is ``BuildSpec.env``:
only the variables ``[executor] env`` names, taken from the coordinator (the worker's own PATH
stands in when PATH is not named, so commands resolve on the machine that runs them).
"""

from __future__ import annotations

from typing import Any

import msgspec

from muxc.backends.calls import CallRecord
from muxc.compile.plan import StepPlan
from muxc.config.schema import Config
from muxc.run.outcome import Produced, StepFailure
from muxc.run.shellvalues import ShellCommand


class TeamSpec(msgspec.Struct, frozen=True):
    name: str
    description: str = ""
    detect: list[str] = []
    verify: str | None = None
    roles: list[str] = []


class BuildSpec(msgspec.Struct, frozen=True):
    build_id: str
    version: str  # the coordinator's muxc: a worker with another refuses every step
    workflow: str
    file: str
    root: str  # the project, at the same path on every worker (a shared filesystem or a checkout)
    config: Config
    env: dict[str, str]
    team: TeamSpec | None = None
    exclude: tuple[str, ...] = ()  # the coordinator's project fingerprint leaves these out
    exclude_files: tuple[str, ...] = ()


class StepTask(msgspec.Struct, frozen=True):
    plan: StepPlan
    rendered: dict[str, str]
    commands: dict[str, ShellCommand]
    item: Any
    key: str
    tree: str | None = None  # the coordinator's project digest, when the step reads the project


class WorkerOutcome(msgspec.Struct, frozen=True):
    result: Produced | StepFailure
    where: str  # the worker's address
    calls: list[CallRecord] = []  # LLM calls it made, for the coordinator's LLM log
