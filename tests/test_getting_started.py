"""docs/getting-started.md, walked as a reader would: its transcripts are run and must match.

The installation check and the sections "Write a workflow" and "Build again" are run in order in a new git project: the
workflow is the guide's own `todos.mux`, the project two Python files with TODO comments (the
ones the transcripts name), and `gpt` a real OpenAI-compatible server on a loopback port that
answers with the guide's ranking. Every `$ command` in a transcript runs (muxc as a subprocess,
stdout and stderr together, as on a terminal) and its output is compared with the lines under it:
durations, token counts and costs are masked (they vary), a line `...` stands for any number of lines,
and a line ending in ` ...` for any line starting with what comes before.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.fixtures import llm_server  # noqa: F401
from tests.support.llm_server import Reply

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "getting-started.md"
# (from, to) headings: the installation check, then the workflow built and rebuilt
WALKED = (("## Install", "## The demo"), ("## Write a workflow", "## Convert an llm-mux workflow"))
ANSWER = ("- **Data integrity**: shop/cart.py:2 prices are floats; use Decimal\n"
          "- **Security**: shop/users.py:2 passwords are stored in plain text")
FILES = {
    "shop/cart.py": "# TODO: prices are floats; use Decimal\ndef total(prices):\n    return sum(prices)\n",
    "shop/users.py": "# TODO: hash passwords before storing them\ndef login(name, password):\n"
                     "    return password == 'admin'\n",
    "README.md": "# shop\n",
}
# What a transcript says was done before a command, done here (then undone after it)
SETUP = {"# after misspelling {{ found }} as {{ fund }}": ("{{ found }}", "{{ fund }}")}
_GIT = ["git", "-c", "user.name=guide", "-c", "user.email=guide@muxc.invalid", "-c", "commit.gpgsign=false"]


def _section(text: str) -> str:
    return "".join(text[text.index(start):text.index(end)] for start, end in WALKED)


def _blocks(text: str) -> list[str]:
    return re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.S | re.M)


def transcripts(text: str) -> list[tuple[str, list[str]]]:
    """(command, expected output lines) for every `$ ` line of the walked section, in order."""
    steps: list[tuple[str, list[str]]] = []
    for block in _blocks(_section(text)):
        if not block.startswith("$ "):
            continue
        for line in block.rstrip("\n").splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            else:
                steps[-1][1].append(line)
    return steps


def mask(line: str) -> str:
    line = re.sub(r"~?\$\d[\d.]*", "$N", line)  # the guide's `gpt` is OpenAI's, priced; here it is free
    line = re.sub(r"\d+\.\ds\b", "N.Ns", line)
    return re.sub(r"~?\d[\d,]*( tokens| out|\))", r"N\1", re.sub(r"~\d[\d,]*", "~N", line))


def matches(expected: list[str], actual: list[str]) -> bool:
    """``expected`` (with `...` wildcards) against ``actual``, masked."""
    if not expected:
        return not actual
    head, rest = mask(expected[0]), expected[1:]
    if head == "...":
        return any(matches(rest, actual[i:]) for i in range(len(actual) + 1))
    if not actual:
        return False
    line = mask(actual[0])
    same = line.startswith(head[:-4]) if head.endswith(" ...") else line == head
    return same and matches(rest, actual[1:])


@pytest.fixture
def shop(tmp_path: Path, isolated_env: dict[str, str], llm_server):  # noqa: F811
    root = tmp_path / "shop-project"
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    workflow = next(block for block in _blocks(_section(GUIDE.read_text())) if block.startswith("workflow todos"))
    (root / "todos.mux").write_text(workflow)
    (root / ".muxc").mkdir()
    (root / ".muxc" / "config.toml").write_text(f'[backends.gpt]\nbase_url = "{llm_server.openai_url}"\n'
                                                f'model = "gpt-4.1-mini"\n\n[roles.reviewer]\nbackends = ["gpt"]\n')
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "shop"]):
        subprocess.run([*_GIT, *args], cwd=root, check=True)
    llm_server.responder = lambda request: Reply(text=ANSWER)
    return root


def run(command: str, root: Path, env: dict[str, str]) -> list[str]:
    code, _, comment = command.partition("  #")
    if comment and "'" not in comment and '"' not in comment:  # a comment, not a quoted `  #`
        command = code.strip()
    if command.startswith("muxc "):
        command = f"{sys.executable} -m muxc " + command[5:]
    done = subprocess.run(["bash", "-c", command], cwd=root, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=60)
    return done.stdout.splitlines()


def test_the_getting_started_transcripts_are_what_muxc_prints(shop: Path, isolated_env: dict[str, str]) -> None:
    steps = transcripts(GUIDE.read_text())
    assert len(steps) >= 10, "the walked section lost its transcripts"
    for command, expected in steps:
        setup = next((change for comment, change in SETUP.items() if comment in command), None)
        workflow = shop / "todos.mux"
        original = workflow.read_text()
        if setup is not None:
            workflow.write_text(original.replace(*setup))
        actual = run(command, shop, isolated_env)
        workflow.write_text(original)
        assert matches(expected, actual), f"$ {command}\n--- the guide:\n" + "\n".join(expected) + \
            "\n--- muxc:\n" + "\n".join(actual)
