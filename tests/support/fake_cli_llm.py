#!/usr/bin/env python3
"""A fake CLI LLM for tests: reads a prompt, answers deterministically, misbehaves on request.

The prompt is the last positional argument, or stdin when there is none (flags such as
``--json`` are not prompts). The answer is ``"echo: " + the first 40 characters of the prompt``.

Behaviour is chosen with environment variables (so the backend's ``env`` can set them):
- ``FAKE_LLM_SLEEP=<seconds>``: sleep before answering;
- ``FAKE_LLM_EXIT=<code>``: exit with this code after answering (stderr says so);
- ``FAKE_LLM_STDERR_BYTES=<n>``: write n bytes to stderr before answering (deadlock tests);
- ``FAKE_LLM_CHILD_PIDFILE=<path>``: start a long-sleeping child in the same process group and
  write its pid to the file (process-group kill tests);
- ``FAKE_LLM_REPORT=1``: answer with a JSON report instead: how the prompt arrived (``via``:
  argv or stdin), its length, the working directory, whether ``CLAUDECODE`` was set, whether
  stdin is /dev/null, and ``FAKE_LLM_ECHO_ENV``'s value;
- ``--json`` in argv, or ``FAKE_LLM_CODEX=1``: print codex-style JSONL events, with two agent
  messages (the last one is the answer) and a ``turn.completed`` usage event.
Only the standard library is used, so any Python can run it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def read_prompt(argv: list[str]) -> tuple[str, str]:
    positional = [arg for arg in argv if not arg.startswith("--")]
    if positional:
        return positional[-1], "argv"
    return sys.stdin.read(), "stdin"


def start_child(pidfile: str) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    with open(pidfile, "w") as handle:
        handle.write(str(child.pid))


def report(prompt: str, via: str) -> str:
    return json.dumps(
        {
            "via": via,
            "length": len(prompt),
            "head": prompt[:40],
            "cwd": os.getcwd(),
            "claudecode": "CLAUDECODE" in os.environ,
            "stdin_is_devnull": os.path.realpath("/proc/self/fd/0") == "/dev/null",
            "echo_env": os.environ.get("FAKE_LLM_ECHO_ENV"),
        }
    )


def codex_events(answer: str) -> str:
    events = [
        {"type": "thread.started", "thread_id": "t1"},
        {"type": "item.completed", "item": {"id": "item_0", "type": "reasoning", "text": "thinking"}},
        {"type": "item.completed", "item": {"id": "item_1", "type": "agent_message", "text": "draft answer"}},
        {"type": "item.completed", "item": {"id": "item_2", "type": "agent_message", "text": answer}},
        {
            "type": "turn.completed",
            "usage": {"input_tokens": 100, "cached_input_tokens": 60, "output_tokens": 7},
        },
    ]
    return "\n".join(json.dumps(event) for event in events) + "\n"


def main(argv: list[str]) -> int:
    prompt, via = read_prompt(argv)
    if os.environ.get("FAKE_LLM_CHILD_PIDFILE"):
        start_child(os.environ["FAKE_LLM_CHILD_PIDFILE"])
    if os.environ.get("FAKE_LLM_STDERR_BYTES"):
        sys.stderr.write("e" * int(os.environ["FAKE_LLM_STDERR_BYTES"]) + "\n")
        sys.stderr.flush()
    time.sleep(float(os.environ.get("FAKE_LLM_SLEEP", "0")))
    answer = report(prompt, via) if os.environ.get("FAKE_LLM_REPORT") else "echo: " + prompt[:40]
    if "--json" in argv or os.environ.get("FAKE_LLM_CODEX"):
        sys.stdout.write(codex_events(answer))
    else:
        sys.stdout.write(answer + "\n\n")
    code = int(os.environ.get("FAKE_LLM_EXIT", "0"))
    if code:
        sys.stderr.write(f"fake failure: exiting with {code}\n")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
