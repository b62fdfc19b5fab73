"""End-to-end tests of apply, query-with-schema, store, input and ecosystems: real git repositories,
real ``muxc build`` processes, real SQLite, and the scripted loopback LLM server.

``proj`` is a ``Repo``: a temporary git work tree with one commit, ``.muxc/config.toml`` pointing
the ``coder``, ``analyzer`` and ``default`` roles at the ``llm_server`` fixture, and HOME and the
XDG directories isolated in the test's temporary directory. ``proj.build(...)`` runs
``python -m muxc build`` as a child process in the project and returns the finished process.
The server answers unscripted requests with ``answer to: <prompt>``, so tests script exactly the
LLM replies they need (``proj.server.script(Reply(text=...))``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.fixtures import llm_server  # noqa: F401
from tests.support.llm_server import LLMServer, RecordedRequest, Reply

GIT_IDENTITY = {"GIT_AUTHOR_NAME": "muxc tests", "GIT_AUTHOR_EMAIL": "tests@muxc.invalid",
                "GIT_COMMITTER_NAME": "muxc tests", "GIT_COMMITTER_EMAIL": "tests@muxc.invalid"}

BASE_CONFIG = """\
[backends.fake]
command = "{url}"
model = "m"

[roles.coder]
backends = ["fake"]

[roles.analyzer]
backends = ["fake"]

[roles.default]
backends = ["fake"]
"""


def answer(request: RecordedRequest) -> Reply:
    return Reply(text="answer to: " + request.prompt)


class Repo:
    def __init__(self, root: Path, env: dict[str, str], server: LLMServer) -> None:
        self.root = root
        self.env = env
        self.server = server
        server.responder = answer
        self.git("init", "-q")
        self.git("config", "commit.gpgsign", "false")
        self.write(".gitignore", ".muxc/state/\n")
        self.config()

    # -- files -------------------------------------------------------------------------------

    def write(self, path: str, text: str | bytes) -> Path:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            target.write_bytes(text)
        else:
            target.write_text(text)
        return target

    def read(self, path: str) -> str:
        return (self.root / path).read_text()

    def bytes(self, path: str) -> bytes:
        return (self.root / path).read_bytes()

    def workflow(self, text: str, name: str = "x") -> Path:
        return self.write(f".muxc/workflows/{name}.mux", textwrap.dedent(text).lstrip("\n"))

    def config(self, extra: str = "") -> None:
        self.write(".muxc/config.toml", BASE_CONFIG.format(url=self.server.openai_url) + textwrap.dedent(extra))

    # -- git ---------------------------------------------------------------------------------

    def git(self, *args: str) -> str:
        done = subprocess.run(["git", *args], cwd=self.root, env=self.env, capture_output=True, text=True, check=True)
        return done.stdout

    def commit(self, message: str = "snapshot") -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)

    def status(self) -> str:
        return self.git("status", "--porcelain", "--untracked-files=all")

    def tree(self) -> dict[str, bytes]:
        """Every file outside .git and .muxc/state, with its bytes."""
        out = {}
        for path in sorted(self.root.rglob("*")):
            relative = path.relative_to(self.root)
            if relative.parts[0] == ".git" or relative.parts[:2] == (".muxc", "state"):
                continue
            out[relative.as_posix()] = path.read_bytes() if path.is_file() else b"<dir>"
        return out

    # -- running muxc ------------------------------------------------------------------------

    def muxc(self, *args: str, timeout: float = 60, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "muxc", *args], cwd=self.root, env=self.env, text=True,
                              capture_output=True, timeout=timeout, **kwargs)

    def build(self, *args: str, code: int | None = 0, workflow: str = "x") -> subprocess.CompletedProcess[str]:
        """``muxc build WORKFLOW ARGS`` (plain progress on stderr); asserts the exit code (unless None)."""
        done = self.muxc("build", workflow, *args)
        assert code is None or done.returncode == code, f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        return done

    def build_json(self, *args: str, code: int | None = 0, workflow: str = "x") -> dict[str, Any]:
        done = self.build(*args, "--output", "json", code=code, workflow=workflow)
        return json.loads(done.stdout)

    @property
    def prompts(self) -> list[str]:
        return [request.prompt for request in self.server.completions]

    @property
    def data_dir(self) -> Path:
        return Path(self.env["XDG_DATA_HOME"]) / "muxc"


def statuses(doc: dict[str, Any]) -> dict[str, str]:
    return {step["name"]: step["status"] for step in doc["steps"]}


@pytest.fixture
def proj(tmp_path: Path, isolated_env: dict[str, str], llm_server: LLMServer) -> Iterator[Repo]:  # noqa: F811
    root = tmp_path / "project"
    root.mkdir()
    env = {**isolated_env, **GIT_IDENTITY, "GIT_CONFIG_NOSYSTEM": "1"}
    yield Repo(root, env, llm_server)
