"""End-to-end build tests: a real git project, a real loopback LLM server, real shell commands.

``project`` is a ``Project``: a temporary git work tree with ``.muxc/config.toml`` pointing the
``analyzer`` and ``synthesizer`` roles at the ``llm_server`` fixture, and an isolated HOME and XDG
dirs. Workflows go in ``.muxc/workflows/`` (``project.workflow(text)``). The server answers
``"answer to: " + the prompt`` unless a test scripts another reply, so a changed prompt changes
the answer and the steps after it.

Builds run in-process through the real click command (``project.build(...)``, fast) or as a
subprocess (``project.spawn(...)``) when a test needs signals, a second process or a pure stdout.
Shell steps count their real executions by appending their name to ``$COUNTER``, a file outside
the project: ``project.ran()`` returns (and clears) what ran since the last call.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.support.built import Built
from tests.support.fixtures import llm_server  # noqa: F401
from tests.support.llm_server import LLMServer, RecordedRequest, Reply


def answer(request: RecordedRequest) -> Reply:
    """The server's default answer: the whole prompt echoed, so any change in it shows downstream."""
    return Reply(text="answer to: " + request.prompt)


_GIT = ("-c", "user.name=muxc tests", "-c", "user.email=tests@muxc.invalid", "-c", "commit.gpgsign=false")


class Project:
    def __init__(self, root: Path, env: dict[str, str], server: LLMServer, counter: Path) -> None:
        self.root = root
        self.env = env
        self.server = server
        self.counter = counter
        server.responder = answer
        self.git("init", "-q")
        self.write(".gitignore", "ignored/\n*.log\n")
        self.config()

    # -- files -----------------------------------------------------------------------------

    def write(self, path: str, text: str) -> Path:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        return target

    def read(self, path: str) -> str:
        return (self.root / path).read_text()

    def workflow(self, text: str, name: str = "w", suffix: str = "mux") -> Path:
        """Write ``.muxc/workflows/NAME.mux`` (dedented; a leading newline is dropped)."""
        return self.write(f".muxc/workflows/{name}.{suffix}", textwrap.dedent(text).lstrip("\n"))

    def config(self, extra: str = "", model: str = "m") -> None:
        self.write(".muxc/config.toml", textwrap.dedent(f"""\
            [backends.fake]
            command = "{self.server.openai_url}"
            model = "{model}"

            [roles.analyzer]
            backends = ["fake"]

            [roles.synthesizer]
            backends = ["fake"]
            """) + textwrap.dedent(extra))

    def git(self, *args: str) -> str:
        done = subprocess.run(["git", *_GIT, *args], cwd=self.root, capture_output=True, text=True, check=True)
        return done.stdout

    def commit(self) -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", "snapshot")

    # -- what ran --------------------------------------------------------------------------

    def ran(self) -> list[str]:
        """The shell steps that really executed since the last call, in order (then forgotten)."""
        if not self.counter.exists():
            return []
        names = self.counter.read_text().split()
        self.counter.unlink()
        return names

    @property
    def calls(self) -> int:
        return self.server.calls

    def prompts(self) -> list[str]:
        return [request.prompt for request in self.server.completions]

    # -- running muxc ----------------------------------------------------------------------

    def cli(self, *args: str) -> Result:
        """``muxc ARGS`` in this process (stdout and stderr kept apart)."""
        from muxc.cli import main

        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    def build(self, *args: str, code: int = 0, workflow: str = "w") -> Built:
        """``muxc build WORKFLOW ARGS --output json``; asserts the exit code."""
        result = self.cli("build", workflow, *args, "--output", "json")
        assert result.stdout.strip(), (result.exit_code, result.stderr)
        built = Built(result.exit_code, json.loads(result.stdout), result.stderr)
        assert result.exit_code == code, [(s["name"], s["status"], s["error"]) for s in built.doc["steps"]]
        return built

    def spawn(self, *args: str, **popen: Any) -> subprocess.Popen[str]:
        """``python -m muxc ARGS`` as a child process in the project."""
        return subprocess.Popen([sys.executable, "-m", "muxc", *args], cwd=self.root, env=self.env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "muxc", *args], cwd=self.root, env=self.env, text=True,
                              capture_output=True, timeout=timeout)


@pytest.fixture
def project(tmp_path: Path, isolated_env: dict[str, str], llm_server: LLMServer,  # noqa: F811
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    root = tmp_path / "project"
    root.mkdir()
    counter = tmp_path / "counter"
    monkeypatch.setenv("COUNTER", str(counter))
    monkeypatch.chdir(root)  # team detection and the plan cache use the working directory
    yield Project(root, dict(os.environ), llm_server, counter)
