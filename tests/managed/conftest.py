"""Managed-backend tests with real processes: shell hooks, a loopback LLM server, real builds.

- ``hooks`` (``Hooks``): hook scripts that record what they did. ``start`` appends
  "start NAME TIME" to a log and creates ``up/NAME``. ``stop`` appends "stop NAME TIME" and
  removes it. ``health`` passes while ``up/NAME`` exists. ``hooks.events()`` reads the log back.
  ``hooks.managed(...)`` / ``hooks.toml(...)`` configure a backend with these hooks; its
  ``base_url`` is the ``llm_server`` fixture, which answers every model.
- ``project`` (``Project``): a temporary git project with its own HOME and XDG dirs. It runs
  ``muxc build`` in-process (``build``) or as a child process (``spawn``) when a test needs
  signals.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from muxc.config.schema import BackendConfig, ManagedConfig
from tests.support.built import Built
from tests.support.fixtures import llm_server  # noqa: F401
from tests.support.llm_server import LLMServer, RecordedRequest, Reply


class Hooks:
    def __init__(self, directory: Path, server: LLMServer) -> None:
        self.dir = directory
        self.log = directory / "hooks.log"
        self.up = directory / "up"
        self.up.mkdir(parents=True, exist_ok=True)
        self.server = server

    def start(self, extra: str = "") -> str:
        return (f'echo "start $MUXC_BACKEND $(date +%s.%N)" >> "{self.log}"; {extra}'
                f'touch "{self.up}/$MUXC_BACKEND"')

    def stop(self, extra: str = "") -> str:
        return f'echo "stop $MUXC_BACKEND $(date +%s.%N)" >> "{self.log}"; {extra}rm -f "{self.up}/$MUXC_BACKEND"'

    def health(self) -> str:
        return f'test -f "{self.up}/$MUXC_BACKEND"'

    def managed(self, name: str, **managed: Any) -> BackendConfig:
        """A backend config built in code (durations in seconds)."""
        hooks = {"start": self.start(), "stop": self.stop(), "health": self.health(), "health_interval": 0.02}
        return BackendConfig(name=name, base_url=self.server.openai_url, model=name,
                             managed=ManagedConfig(**{**hooks, **managed}))

    def toml(self, name: str, **managed: Any) -> str:
        """The same backend as a config file section."""
        hooks = {"start": self.start(), "stop": self.stop(), "health": self.health(), "health_interval": 0.02}
        lines = [f"[backends.{name}]", f'base_url = "{self.server.openai_url}"', f'model = "{name}"',
                 f"[backends.{name}.managed]"]
        lines += [f"{key} = {json.dumps(value)}" for key, value in {**hooks, **managed}.items()]
        return "\n".join(lines) + "\n"

    def events(self) -> list[tuple[str, str]]:
        return [(event, name) for event, name, _ in self.timed()]

    def timed(self) -> list[tuple[str, str, float]]:
        if not self.log.exists():
            return []
        return [(parts[0], parts[1], float(parts[2])) for parts in map(str.split, self.log.read_text().splitlines())]

    def bring_up(self, name: str) -> None:
        """Make ``name`` healthy before muxc looks (a server someone else started)."""
        (self.up / name).touch()


def model_answer(request: RecordedRequest) -> Reply:
    model = request.body.get("model") if isinstance(request.body, dict) else None
    return Reply(text=f"{model} says: {request.prompt[:30]}")


@pytest.fixture
def hooks(tmp_path: Path, llm_server: LLMServer) -> Hooks:  # noqa: F811
    llm_server.responder = model_answer
    return Hooks(tmp_path / "hooks", llm_server)


class Project:
    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)

    def write(self, path: str, text: str) -> Path:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip("\n"))
        return target

    def config(self, text: str) -> None:
        self.write(".muxc/config.toml", text)

    def workflow(self, text: str, name: str = "w") -> None:
        self.write(f".muxc/workflows/{name}.mux", text)

    def cli(self, *args: str) -> Any:
        from muxc.cli import main

        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    def build(self, *args: str, code: int = 0, workflow: str = "w") -> Built:
        result = self.cli("build", workflow, *args, "--output", "json")
        assert result.stdout.strip(), (result.exit_code, result.stderr)
        built = Built(result.exit_code, json.loads(result.stdout), result.stderr)
        assert built.code == code, (built.status, [s["error"] for s in built.doc["steps"]], result.stderr)
        return built

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "muxc", *args], cwd=self.root, env=self.env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    @property
    def costs(self) -> dict[str, Any]:
        return json.loads((self.root / ".muxc" / "state" / "backends.json").read_text())["backends"]


@pytest.fixture
def project(tmp_path: Path, isolated_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Project:
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)  # the plan cache and team detection use the working directory
    return Project(root, dict(os.environ))


def alternating_queries(count: int) -> str:
    """A workflow of ``count`` independent query steps whose roles alternate ra, rb, ra, ..."""
    steps = [f"query q{i} @{'ra' if i % 2 == 0 else 'rb'}:\n    question {i}\n" for i in range(count)]
    return 'workflow w "alternating backends"\n\n' + "\n".join(steps)
