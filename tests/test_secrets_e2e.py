"""No API key or bearer token ever leaves the process: not in output, logs, state or messages.

A real build against the loopback server, with the key in the environment (as config expects it,
through ``${VAR}``), once succeeding and once failing with 401; then every byte muxc wrote —
stdout, stderr, the debug log, everything under ``.muxc/`` and the user data dir (the LLM log, the
plan cache) — is searched for the key.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.llm_server import LLMServer, Reply

KEY = "sk-test-9f3c1e7a5b2d4860SECRET"


def _project(tmp_path: Path, url: str) -> tuple[Path, dict[str, str]]:
    project = tmp_path / "project"
    (project / ".muxc" / "workflows").mkdir(parents=True)
    (project / ".muxc" / "workflows" / "ask.mux").write_text(
        'workflow ask "one question"\n\nquery answer @analyzer:\n    What is 2 + 2?\n')
    (project / ".muxc" / "config.toml").write_text(
        f'[backends.api]\ncommand = "{url}"\nmodel = "m"\napi_key = "${{MUXC_TEST_KEY}}"\nmax_retries = 0\n\n'
        '[roles.analyzer]\nbackends = ["api"]\n')
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_DATA_HOME": str(tmp_path / "data"), "TMPDIR": str(tmp_path / "tmp"), "MUXC_TEST_KEY": KEY}
    (tmp_path / "tmp").mkdir()
    return project, env


def _build(project: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "muxc", "--debug", "build", "ask", *extra], cwd=project, env=env,
                          capture_output=True, text=True, timeout=60)


def _files_containing(root: Path, needle: bytes) -> list[str]:
    return [str(path) for path in root.rglob("*") if path.is_file() and needle in path.read_bytes()]


@pytest.mark.parametrize("reply", [None, Reply.error(401, "invalid api key")], ids=["success", "unauthorized"])
def test_the_key_never_leaves_the_process(tmp_path: Path, reply: Reply | None) -> None:
    with LLMServer() as server:
        if reply is not None:
            server.script(reply)
        project, env = _project(tmp_path, server.openai_url)
        done = _build(project, env)
        assert server.requests[0].api_key == KEY  # it was really sent...
    assert done.returncode == (0 if reply is None else 1), done.stderr
    if reply is not None:  # the failure names the backend and the key's variable, never its value
        assert "authentication failed for backend 'api' (keys: MUXC_TEST_KEY" in done.stderr
    for text in (done.stdout, done.stderr):
        assert KEY not in text and KEY[:12] not in text
    assert _files_containing(tmp_path, KEY.encode()) == []  # ...and written nowhere: state, logs, plan cache


def test_doctor_and_the_llm_log_listing_never_show_the_key(tmp_path: Path) -> None:
    with LLMServer() as server:
        server.script(Reply.error(403, "forbidden"))
        project, env = _project(tmp_path, server.openai_url)
        _build(project, env)
        doctor = subprocess.run([sys.executable, "-m", "muxc", "doctor", "--output", "json"], cwd=project, env=env,
                                capture_output=True, text=True, timeout=60)
        logs = subprocess.run([sys.executable, "-m", "muxc", "logs", "--full"], cwd=project, env=env,
                              capture_output=True, text=True, timeout=60)
    for text in (doctor.stdout, doctor.stderr, logs.stdout, logs.stderr):
        assert KEY not in text
