"""`muxc init` on a project with no config: it finds a real OpenAI-compatible server on a loopback
port (the test server, like Ollama on 11434), keys in the environment and CLIs on PATH, writes
.muxc/config.toml routing every built-in role to the choice, and a build then answers through
it. Re-running shows the routing instead of overwriting."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib

import pytest

from muxc.config.defaults import BUILTIN_ROLES
from tests.run.procs import reap, wait_until
from tests.support.fixtures import fake_cli  # noqa: F401
from tests.support.llm_server import Reply

MODELS = Reply(json={"object": "list", "data": [{"id": "llama3.2", "object": "model"},
                                                {"id": "qwen2.5-coder", "object": "model"}]})


@pytest.fixture
def fresh(project):
    """The project with no config: what a new user has."""
    (project.root / ".muxc" / "config.toml").unlink()
    project.server.models_reply = MODELS
    project.port = str(int(project.server.openai_url.rsplit(":", 1)[1].split("/")[0]))
    return project


def _config(project) -> dict:
    return tomllib.loads(project.read(".muxc/config.toml"))


def test_init_routes_every_role_to_a_server_it_found_and_a_build_answers_through_it(fresh, snapshot):
    result = fresh.cli("init", "--scan", fresh.port, "--backend", "server")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "wrote .muxc/config.toml: every built-in role answered by server"
    config = _config(fresh)
    assert config["backends"]["server"] == {"base_url": fresh.server.openai_url, "model": "llama3.2"}
    assert {role: table["backends"] for role, table in config["roles"].items()} == {
        role: ["server"] for role in BUILTIN_ROLES}
    assert re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", fresh.read(".muxc/config.toml")) == snapshot
    fresh.workflow('workflow w "x"\n\nquery ask @coder:\n    Hello there\n')
    assert fresh.build().output.rstrip() == "answer to: Hello there"
    assert fresh.server.completions[-1].body["model"] == "llama3.2"


def test_running_init_again_shows_the_routing_and_overwrites_only_when_forced(fresh, snapshot):
    assert fresh.cli("init", "--scan", fresh.port, "--backend", "server", "--model", "qwen2.5-coder").exit_code == 0
    written = fresh.read(".muxc/config.toml")
    again = fresh.cli("init")
    assert again.exit_code == 0 and fresh.read(".muxc/config.toml") == written
    assert again.stdout == snapshot
    asked = fresh.cli("init", "--backend", "openai")  # a change asked for, not made
    assert asked.exit_code == 1 and fresh.read(".muxc/config.toml") == written
    forced = fresh.cli("init", "--backend", "openai", "--force")
    assert forced.exit_code == 0, forced.output
    assert fresh.read(".muxc/config.toml.bak") == written
    assert _config(fresh)["backends"]["openai"]["api_key"] == "${OPENAI_API_KEY}"


def test_init_detects_keys_and_clis_and_writes_references_never_the_key(fresh, fake_cli, monkeypatch):  # noqa: F811
    fake_cli.wrapper("claude")
    monkeypatch.setenv("PATH", fake_cli.path_with_wrappers())
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret-value")
    result = fresh.cli("init", "--backend", "anthropic", "--role", "coder=claude", "--output", "json")
    assert result.exit_code == 0, result.output
    doc = __import__("json").loads(result.stdout)
    assert {"anthropic", "claude"} <= set(doc["detected"])
    text = fresh.read(".muxc/config.toml")
    assert "sk-ant-secret-value" not in text
    config = _config(fresh)
    assert config["backends"] == {"anthropic": {"type": "claude-api", "api_key": "${ANTHROPIC_API_KEY}",
                                                "model": "claude-sonnet-4-20250514"},
                                  "claude": {"command": "claude"}}
    assert config["roles"]["coder"]["backends"] == ["claude"]
    assert config["roles"]["analyzer"]["backends"] == ["anthropic"]


def test_without_a_terminal_init_needs_backend_and_names_what_it_found(fresh):
    result = fresh.cli("init", "--scan", fresh.port)
    assert result.exit_code == 2
    assert "not a terminal: pass --backend NAME|URL (found here: " in result.stderr
    assert f"server: a server at {fresh.server.openai_url} serving llama3.2, qwen2.5-coder" in result.stderr
    unknown = fresh.cli("init", "--backend", "olama")
    assert unknown.exit_code == 2 and "--backend olama: not a backend muxc init knows or a URL" in unknown.stderr
    role = fresh.cli("init", "--backend", "server", "--scan", fresh.port, "--role", "coderr=server")
    assert role.exit_code == 2 and "--role coderr=...: not a built-in role" in role.stderr
    assert not (fresh.root / ".muxc" / "config.toml").exists()


def test_a_url_given_is_written_as_an_openai_compatible_backend(fresh):
    result = fresh.cli("init", "--backend", fresh.server.openai_url.removesuffix("/v1"))
    assert result.exit_code == 0, result.output
    # a loopback URL is asked for its models: the first is the default
    assert _config(fresh)["backends"]["server"] == {"base_url": fresh.server.openai_url, "model": "llama3.2"}


def test_on_a_terminal_init_asks_which_backend_and_which_model(fresh):
    import pty

    leader, follower = pty.openpty()
    child = subprocess.Popen([sys.executable, "-m", "muxc", "init", "--scan", fresh.port], cwd=fresh.root,
                             env=dict(os.environ), stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    seen = bytearray()

    def shown(text: str) -> bool:
        import select

        while select.select([leader], [], [], 0)[0]:
            try:
                seen.extend(os.read(leader, 65536))
            except OSError:
                break
        return text in seen.decode(errors="replace")

    try:
        assert wait_until(lambda: shown("Route every role to"), timeout=20), seen.decode(errors="replace")
        number = re.search(rf"(\d+)  server +a server at {re.escape(fresh.server.openai_url)}", seen.decode())[1]
        os.write(leader, f"{number}\n".encode())
        assert wait_until(lambda: shown("Model"), timeout=10), seen.decode(errors="replace")
        os.write(leader, b"qwen2.5-coder\n")
        child.wait(timeout=20)
        shown("")
    finally:
        reap(child)
        os.close(leader)
    assert child.returncode == 0, seen.decode(errors="replace")
    assert _config(fresh)["backends"]["server"]["model"] == "qwen2.5-coder"
