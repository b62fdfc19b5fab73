"""CLI backends with a real fake CLI (``tests/support/fake_cli_llm.py``): prompt delivery, working
directory and environment, process-group kills, exit codes, and codex JSONL."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from muxc.backends.base import BackendError, Cancel, CompletionRequest, Usage


def ask(backend, prompt: str = "hello from the test", cancel: Cancel | None = None, **request):
    return backend.complete(CompletionRequest(prompt, **request), cancel or Cancel())


def report(backend, prompt: str = "hello from the test") -> dict:
    return json.loads(ask(backend, prompt).text)


def fake(make_backend, fake_cli, env: dict[str, str] | None = None, **fields):
    return make_backend("fake", command=fake_cli.command, args=fake_cli.args, env=env or {}, **fields)


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (PID 1 may never reap it here)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def test_prompt_is_the_last_argument_and_runs_in_the_project_root(make_backend, fake_cli, tmp_path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    backend = fake(make_backend, fake_cli, {"FAKE_LLM_REPORT": "1"}, root=root)
    seen = report(backend)
    assert seen["via"] == "argv" and seen["head"] == "hello from the test"
    assert seen["stdin_is_devnull"] is True
    assert seen["cwd"] == str(root)


def test_plain_answer_is_stdout_with_trailing_whitespace_trimmed(make_backend, fake_cli) -> None:
    completion = ask(fake(make_backend, fake_cli), "what is up")
    assert completion.text == "echo: what is up"
    assert completion.usage == Usage() and completion.backend == "fake"


def test_system_text_goes_before_the_prompt(make_backend, fake_cli) -> None:
    assert ask(fake(make_backend, fake_cli), "the prompt", system="SYS").text == "echo: SYS\n\nthe prompt"


def test_stdin_option_sends_the_prompt_on_stdin(make_backend, fake_cli) -> None:
    assert report(fake(make_backend, fake_cli, {"FAKE_LLM_REPORT": "1"}, stdin=True))["via"] == "stdin"


def test_a_300_kb_prompt_goes_through_stdin_automatically(make_backend, fake_cli) -> None:
    prompt = "x" * 300_000
    seen = report(fake(make_backend, fake_cli, {"FAKE_LLM_REPORT": "1"}), prompt)
    assert seen["via"] == "stdin" and seen["length"] == 300_000


def test_a_prompt_too_large_for_argv_with_stdin_off_is_a_clear_error(make_backend, fake_cli) -> None:
    with pytest.raises(BackendError) as caught:
        ask(fake(make_backend, fake_cli, stdin=False), "x" * 200_000)
    assert caught.value.kind == "config" and "set stdin = true" in caught.value.message


def test_environment_adds_env_pairs_expands_references_and_drops_claudecode(make_backend, fake_cli) -> None:
    environ = {**os.environ, "CLAUDECODE": "1", "SOURCE_VALUE": "from-parent"}
    backend = make_backend(
        "fake",
        command=fake_cli.command,
        args=fake_cli.args,
        env=[["FAKE_LLM_REPORT", "1"], ["FAKE_LLM_ECHO_ENV", "${SOURCE_VALUE}"]],
        environ=environ,
    )
    seen = report(backend)
    assert seen["claudecode"] is False and seen["echo_env"] == "from-parent"
    assert backend.identity() == {
        "kind": "cli",
        "command": fake_cli.command,
        "args": fake_cli.args,
        "model": None,
        "env": ["FAKE_LLM_ECHO_ENV", "FAKE_LLM_REPORT"],
    }
    assert backend.reads_project is True


def test_non_zero_exit_is_a_process_error_with_code_and_stderr_tail(make_backend, fake_cli) -> None:
    with pytest.raises(BackendError) as caught:
        ask(fake(make_backend, fake_cli, {"FAKE_LLM_EXIT": "3"}))
    error = caught.value
    assert error.kind == "process" and error.exit_code == 3
    assert error.stderr_tail == "fake failure: exiting with 3"
    assert "exited with code 3: fake failure" in error.message


def test_large_stderr_does_not_deadlock(make_backend, fake_cli) -> None:
    completion = ask(fake(make_backend, fake_cli, {"FAKE_LLM_STDERR_BYTES": str(2_000_000)}), "still fine")
    assert completion.text == "echo: still fine"


def test_missing_executable_is_a_config_error_saying_how_to_fix_it(make_backend) -> None:
    with pytest.raises(BackendError) as caught:
        ask(make_backend("ghost", command="no-such-llm-cli-here"))
    assert caught.value.kind == "config"
    assert (
        caught.value.message
        == "command 'no-such-llm-cli-here' not found on PATH; install it or set command to its full path in [backends.ghost]"
    )


def test_timeout_kills_the_whole_process_group(make_backend, fake_cli, tmp_path) -> None:
    pidfile = tmp_path / "child.pid"
    backend = fake(
        make_backend,
        fake_cli,
        {"FAKE_LLM_SLEEP": "30", "FAKE_LLM_CHILD_PIDFILE": str(pidfile)},
        timeout="700ms",
    )
    started = time.monotonic()
    with pytest.raises(BackendError) as caught:
        ask(backend)
    assert time.monotonic() - started < 3.0
    assert caught.value.kind == "timeout" and "process group was killed" in caught.value.message
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 2
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive(child)
    assert backend.in_flight == 0


def test_cancel_kills_the_process_group_within_a_second(make_backend, fake_cli, tmp_path) -> None:
    pidfile = tmp_path / "child.pid"
    backend = fake(make_backend, fake_cli, {"FAKE_LLM_SLEEP": "30", "FAKE_LLM_CHILD_PIDFILE": str(pidfile)})
    cancel = Cancel()
    threading.Timer(0.4, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(BackendError) as caught:
        ask(backend, cancel=cancel)
    assert caught.value.kind == "cancelled"
    assert time.monotonic() - started < 1.4
    time.sleep(0.1)
    assert not alive(int(pidfile.read_text()))


def test_codex_json_is_reduced_to_the_last_agent_message(make_backend, fake_cli) -> None:
    backend = make_backend("codex", command=fake_cli.wrapper("codex"), args=["exec", "--json"])
    completion = ask(backend, "fix it")
    assert completion.text == "echo: fix it"
    assert completion.usage == Usage(input_tokens=40, cached_input_tokens=60, output_tokens=7)


def test_codex_json_can_be_asked_for_explicitly(make_backend, fake_cli) -> None:
    backend = fake(make_backend, fake_cli, {"FAKE_LLM_CODEX": "1"}, output_format="codex-json")
    assert ask(backend, "explicit").text == "echo: explicit"
    plain = fake(make_backend, fake_cli, {"FAKE_LLM_CODEX": "1"})  # not named codex: raw output
    assert ask(plain, "raw").text.startswith('{"type": "thread.started"')


def test_timeouts_are_retried_only_with_retry_timeout(make_backend, fake_cli, tmp_path) -> None:
    marker = tmp_path / "ran-once"
    script = fake_cli.directory / "slow-once"
    script.write_text(
        f'#!/bin/sh\nif [ -e "{marker}" ]; then echo fast; else touch "{marker}"; sleep 5; fi\n'
    )
    script.chmod(0o755)
    backend = make_backend("slow", command=str(script), timeout="500ms", retry_timeout=True)
    completion = ask(backend)
    assert completion.text == "fast" and completion.attempts == 2


def test_a_cli_ignoring_sigterm_is_killed_after_the_grace(make_backend, fake_cli) -> None:
    stubborn = fake_cli.directory / "stubborn"
    stubborn.write_text("#!/bin/sh\ntrap '' TERM\nsleep 30\n")
    stubborn.chmod(0o755)
    started = time.monotonic()
    with pytest.raises(BackendError) as caught:
        ask(make_backend("stubborn", command=str(stubborn), timeout="300ms"))
    assert caught.value.kind == "timeout"
    assert time.monotonic() - started < 2.0  # 0.3 s timeout + 0.5 s grace, then SIGKILL


def test_children_left_behind_by_a_finished_cli_are_killed(make_backend, fake_cli, tmp_path) -> None:
    pidfile = tmp_path / "child.pid"
    backend = fake(make_backend, fake_cli, {"FAKE_LLM_CHILD_PIDFILE": str(pidfile)})
    started = time.monotonic()
    assert ask(backend, "done quickly").text == "echo: done quickly"
    assert time.monotonic() - started < 2.0  # the child held stdout open; it did not hold us
    time.sleep(0.1)
    assert not alive(int(pidfile.read_text()))
