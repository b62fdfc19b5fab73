"""OpenAI's Codex CLI (``@openai/codex`` from the npm registry, installed once into a cache
directory) against a real ``muxc serve`` over the Responses API: ``codex exec`` in a temporary git
repository, on a Chat Completions backend and on an Anthropic one, each scripted to call Codex's
shell tool and then answer. The command runs (its output reaches the model's next turn) and the
answer prints. Skipped, with the reason, where npm is missing or the package cannot be installed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.serve.conftest import chat_chunk
from tests.serve.test_responses import anthropic_tool_events
from tests.support.llm_server import RecordedRequest, Reply

MARKER = "marker-from-the-file-42"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "muxc-tests" / "codex"


@pytest.fixture(scope="module")
def codex() -> str:
    binary = CACHE / "node_modules" / ".bin" / "codex"
    if binary.exists():
        return str(binary)
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: the Codex CLI end-to-end test needs it")
    CACHE.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(CACHE), "@openai/codex"],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0 or not binary.exists():
        pytest.skip(f"could not install @openai/codex from npm: {done.stderr[-300:]}")
    return str(binary)


def tool_output(request: RecordedRequest) -> str | None:
    """The shell tool's output in the request, whichever protocol it came in (None: first turn)."""
    for message in request.body["messages"]:
        if message.get("role") == "tool":
            return message["content"]
        for block in message.get("content") if isinstance(message.get("content"), list) else []:
            if block.get("type") == "tool_result":
                content = block.get("content")
                return content if isinstance(content, str) else json.dumps(content)
    return None


def scripted_agent(request: RecordedRequest) -> Reply:
    output = tool_output(request)
    if output is not None:
        return Reply(text="ANSWER " + ("saw the file" if MARKER in output else f"no marker in {output[:200]!r}"))
    arguments = json.dumps({"cmd": "cat notes.txt"})
    if request.protocol == "anthropic":
        return Reply(stream=True, events=anthropic_tool_events("toolu_sh1", "exec_command", [arguments]))
    return Reply(stream=True, events=[
        chat_chunk({"role": "assistant", "tool_calls": [{"index": 0, "id": "call_sh1", "type": "function",
                                                         "function": {"name": "exec_command", "arguments": ""}}]}),
        chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": arguments}}]}),
        chat_chunk({}, "tool_calls"), "data: [DONE]"])


@pytest.mark.parametrize("model", ["coder", "writer"])  # a Chat Completions backend, an Anthropic backend
def test_codex_exec_runs_a_command_and_prints_the_answer(codex: str, gateway, llm_server, tmp_path: Path,
                                                         model: str) -> None:
    llm_server.responder = scripted_agent
    home = tmp_path / "codex-home"
    home.mkdir()
    (home / "config.toml").write_text(f"""
model = "{model}"
model_provider = "muxc"
approval_policy = "never"

[features]
plugins = false

[model_providers.muxc]
name = "muxc serve"
base_url = "{gateway.url}/v1"
env_key = "MUXC_SERVE_KEY"
wire_api = "responses"
""")
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / "notes.txt").write_text(MARKER + "\n")
    env = {**os.environ, "CODEX_HOME": str(home), "HOME": str(tmp_path), "MUXC_SERVE_KEY": "unused",
           "RUST_LOG": "error"}
    done = subprocess.run([codex, "exec", "--skip-git-repo-check", "read notes.txt"], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ANSWER saw the file" in done.stdout, (done.stdout[-1000:], done.stderr[-2000:])
    turns = [r for r in llm_server.requests if r.protocol in ("openai", "anthropic")]
    assert len(turns) == 2 and turns[0].stream  # the shell call, then the answer
