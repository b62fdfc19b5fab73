"""The fast DSL reader (precomputed LALR tables, no Lark) reads exactly what Lark's path reads.

`muxc check` reads a `.mux` file with `syntax.mux_statements` and only falls back to Lark for
text with a syntax error, so every statement, span, comment and problem a user sees on a valid
file comes from the fast reader. These tests hold it to Lark's path on every `.mux` file in the
repository and on generated and mutated workflows, and check the tables match the grammar.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from muxc.base.resources import grammar_text
from muxc.diagnostics.sink import DiagnosticSink
from muxc.syntax.fields import ALL as STEP_KINDS
from muxc.syntax.mux_lark import read_with_lark
from muxc.syntax.mux_statements import read
from muxc.syntax.mux_tables import TABLES
from tests.frontend.test_frontend_robustness import FUZZ, dsl_workflow, mutated
from tools.lalr_tables import grammar_digest, mux_tables

ROOT = Path(__file__).resolve().parents[2]
STALE = "grammar/muxc.lark changed: run `python -m tools.lalr_tables` to regenerate muxc/syntax/mux_tables.py"
MUX_FILES = sorted(path for path in ROOT.glob("**/*.mux") if ".venv" not in path.parts)


def test_the_tables_were_generated_from_this_grammar() -> None:
    assert TABLES["digest"] == grammar_digest(grammar_text("muxc.lark")), STALE


def test_lark_still_derives_the_same_tables() -> None:
    assert mux_tables() == TABLES, STALE


def _what_was_read(found) -> object:
    statements, comments, problems = found
    return [(s.kind, s.name, s.span, s.table) for s in statements], comments, problems


def assert_same_reading(text: str) -> None:
    source = text if text.endswith("\n") else text + "\n"
    fast = read(source)
    slow = read_with_lark(source, "t.mux", DiagnosticSink())
    if fast is not None:
        assert slow is not None, "the fast reader accepted text Lark rejects"
        assert _what_was_read(fast) == _what_was_read(slow)
    elif slow is not None:  # Lark reads on only past a misspelled step kind
        assert any(s.kind == "step" and s.table.entries["type"].value.value not in STEP_KINDS for s in slow[0])


def test_every_mux_file_here_reads_the_same() -> None:
    assert len(MUX_FILES) > 40
    for path in MUX_FILES:
        assert_same_reading(path.read_text(encoding="utf-8"))


EDGES = [
    "workflow w\n",
    "\n\n# top\nworkflow w # trailing\n# between\nshell a: echo\n",
    "workflow w\nshell a [timeout = \"1m\",\n  # inside\n  inputs = [\"x\",\n \"y\",],\n]:\n    body\n# after block\n"
    "\n# more\nshell b = \"\"\"x\ny\"\"\"\n",
    "workflow w\nquery q @r > 'out.md' [params = {a = 1, b = [true, 1.5, {}], c = []}]:  # note\n\tx\n\n\ty\n",
    "workflow w\narg x = 1 required \"what\"\narg y\nrole r [a = 1]\nshell s from steps.a.b: x\n",
    "tests \"w.mux\"\ntest \"t\" [args = {x = \"1\"}]\nfile \"a.txt\": hi\nanswer q:\n  yes\nexpect step q [contains = \"y\"]\n",
    "workflow w\nshell a: echo\nshell a: again\nshell b [timeout = 1, timeout = 2]: x\n",
    "workflow w\nshell a:\n    one\n  less\n",
    "workflow w\nshell a [x = " + "[" * 97 + "]" * 97 + "]: y\n",
    "workflow w\nshell a [x = " + "[" * 98 + "]" * 98 + "]: y\n",
    "workflow w\nqeury a: misspelled\n",
    "workflow w\nshell a [x = \"\\q\"]: bad escape\n",
    "workflow w\r\nshell a: x\r\n",
    "workflow w\nshell a:",
]


def test_edge_cases_read_the_same() -> None:
    for text in EDGES:
        assert_same_reading(text)


@settings(FUZZ, max_examples=150)
@given(text=dsl_workflow())
def test_generated_workflows_read_the_same(text: str) -> None:
    assert_same_reading(text)


@settings(FUZZ, max_examples=300)
@given(case=mutated())
def test_mutated_workflows_read_the_same(case: tuple[str, str]) -> None:
    assert_same_reading(case[0])


@settings(FUZZ, max_examples=150)
@given(text=st.text(alphabet="workflowshel aqry[]{}=:,\"'#\n\t1.", max_size=80))
def test_scrambled_text_reads_the_same(text: str) -> None:
    assert_same_reading(text)


def test_a_valid_file_is_read_without_loading_lark() -> None:
    """Lark (and building its parser) costs a fresh process tens of milliseconds; only a file with a
    syntax error needs it."""
    import subprocess
    import sys

    script = ("import sys\nfrom muxc.diagnostics.sink import DiagnosticSink\nfrom muxc.syntax import parse_workflow\n"
              "ok = parse_workflow('workflow w\\nshell a: echo\\n', 'w.mux', DiagnosticSink())\n"
              "print(ok is not None, 'lark' in sys.modules)\n"
              "bad = parse_workflow('workflow w\\nshell a [x = ]: echo\\n', 'w.mux', DiagnosticSink())\n"
              "print(bad is None, 'lark' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "False", "True", "True"]
