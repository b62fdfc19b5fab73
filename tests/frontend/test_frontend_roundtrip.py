"""`muxc fmt` converts without loss: TOML -> DSL -> TOML is the same data, DSL -> TOML -> DSL the
same text, both formats mean the same workflow, formatting is idempotent, and comments survive.

The files: every workflow in ``stdlib/`` and ``examples/`` (whatever exists when the tests run),
the fixtures in ``roundtrip/`` (canonical DSL and a hand-written TOML file, both full of
comments), the seeds, and every case file that parses (a case's mistake is usually found by the
checker, after parsing, and fmt must keep it exactly as written).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from muxc.diagnostics.sink import DiagnosticSink
from muxc.syntax import parse_workflow, toml
from muxc.syntax.ast import Workflow
from muxc.syntax.emit_mux import emit_mux
from muxc.syntax.emit_toml import emit_toml
from tests.frontend.support import CASES, REPO, ROUNDTRIP, SEEDS


def parse(text: str, fmt: str) -> Workflow | None:
    sink = DiagnosticSink()
    workflow = parse_workflow(text, f"workflow.{fmt}", sink, fmt=fmt)
    return None if workflow is None or sink.has_errors else workflow


def convert(text: str, fmt: str, to: str) -> str:
    workflow = parse(text, fmt)
    assert workflow is not None, f"{fmt} text does not parse:\n{text}"
    return emit_mux(workflow) if to == "mux" else emit_toml(workflow)


def sources(suffix: str) -> list[Path]:
    shipped = [*REPO.glob(f"stdlib/**/*{suffix}"), *REPO.glob(f"examples/**/*{suffix}")]
    found = [path for path in sorted(shipped) if _is_workflow(path)]
    found += [*sorted(ROUNDTRIP.glob(f"*{suffix}")), *sorted(SEEDS.glob(f"workflows/*{suffix}"))]
    found += [case for case in sorted(CASES.glob(f"*{suffix}")) if _parses(case, suffix[1:])]
    return found


def _is_workflow(path: Path) -> bool:
    """Examples also hold projects (a Rust crate, its Cargo.toml, its target/): skip those."""
    if "target" in path.parts or path.name in ("Cargo.toml", "pyproject.toml", "config.toml"):
        return False
    return path.suffix == ".mux" or "[[steps]]" in path.read_text(encoding="utf-8", errors="replace")


def _parses(path: Path, fmt: str) -> bool:
    try:
        return parse(path.read_text(encoding="utf-8"), fmt) is not None
    except UnicodeDecodeError:
        return False


def ids(path: Path) -> str:
    return str(path.relative_to(REPO))


TOML_FILES = sources(".toml")
MUX_FILES = sources(".mux")


def meaning(workflow: Workflow) -> Any:
    """The workflow as plain data, without where anything was written (spans, comments, format)."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"value", "span", "pieces"}:  # a spanned string: its text is its meaning
                return value["value"]
            return {k: strip(v) for k, v in value.items() if k not in ("origin", "file", "format",
                                                                        "trailing_comments")}
        if isinstance(value, (list, tuple)):
            return [strip(item) for item in value]
        return value

    return strip(msgspec.to_builtins(workflow))


@pytest.mark.parametrize("path", TOML_FILES, ids=ids)
def test_toml_to_dsl_to_toml_is_the_same_data(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    back = convert(convert(text, "toml", "mux"), "mux", "toml")
    assert toml.loads(back) == toml.loads(text)


@pytest.mark.parametrize("path", TOML_FILES, ids=ids)
def test_toml_and_its_dsl_mean_the_same_workflow(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert meaning(parse(convert(text, "toml", "mux"), "mux")) == meaning(parse(text, "toml"))


@pytest.mark.parametrize("path", MUX_FILES, ids=ids)
def test_dsl_to_toml_to_dsl_is_the_same_text(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    formatted = convert(text, "mux", "mux")
    via_toml = convert(text, "mux", "toml")
    assert convert(via_toml, "toml", "mux") == formatted
    assert meaning(parse(via_toml, "toml")) == meaning(parse(text, "mux"))


@pytest.mark.parametrize("path", [*TOML_FILES, *MUX_FILES], ids=ids)
def test_fmt_is_idempotent(path: Path) -> None:
    fmt = path.suffix[1:]
    once = convert(path.read_text(encoding="utf-8"), fmt, fmt)
    assert convert(once, fmt, fmt) == once
    other = "mux" if fmt == "toml" else "toml"
    converted = convert(once, fmt, other)
    assert convert(converted, other, other) == converted


@pytest.mark.parametrize("path", sorted(ROUNDTRIP.glob("*.mux")), ids=ids)
def test_the_canonical_dsl_fixtures_are_already_formatted(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert convert(text, "mux", "mux") == text
    assert convert(convert(text, "mux", "toml"), "toml", "mux") == text


def test_the_round_trips_have_cases_today() -> None:
    assert len(TOML_FILES) >= 20 and len(MUX_FILES) >= 10


# --- comments ----------------------------------------------------------------------------

COMMENTED = '''# above the workflow line
workflow commented "Comments everywhere"   # after the workflow line

# above an arg
arg base = "HEAD~1"  # after an arg

# above a role, with a blank line after it

role careful [backends = ["local"]]  # after a role

shell diff: git diff {{ base }}
# at column 1, right after a block body? no: after a line body

query analyze @careful [   # after the opening bracket
    # above timeout
    timeout = "3m",  # after timeout
    # above retries, two lines
    # of comment
    retries = 2,
    # before the closing bracket
]:  # after the colon of the block
    Review {{ diff }}
    # indented under the step: part of the prompt, not a comment
# at column 1 right after the block body

query summary @careful: Summarize {{ analyze }}
# the last line of the file
'''

PROMPT_LINE = " indented under the step: part of the prompt, not a comment"
COMMENTS = [line.split("#", 1)[1] for line in COMMENTED.splitlines() if "#" in line and PROMPT_LINE not in line]


def comment_texts(text: str) -> list[str]:
    """The text of every line that is only a comment (how ``muxc fmt`` writes every comment)."""
    return [line.strip()[1:] for line in text.splitlines() if line.strip().startswith("#")]


def test_every_dsl_comment_survives_dsl_to_toml_to_dsl() -> None:
    formatted = convert(COMMENTED, "mux", "mux")
    as_toml = convert(COMMENTED, "mux", "toml")
    back = convert(as_toml, "toml", "mux")
    assert sorted(comment_texts(formatted)) == sorted([*COMMENTS, PROMPT_LINE])
    assert sorted(comment_texts(as_toml)) == sorted([*COMMENTS, PROMPT_LINE])
    assert back == formatted
    assert f"    #{PROMPT_LINE}\n" in back  # still the prompt's text, indented under its step


def test_toml_comments_above_any_key_survive_toml_to_dsl_to_toml() -> None:
    text = """# above the name
name = "x"
# above the description
description = "d"

# above the step
[[steps]]
# above the step's name
name = "a"
# above its type
type = "shell"
# above its command
run = "echo"
# above its timeout
timeout = "1m"
"""
    as_mux = convert(text, "toml", "mux")
    assert sorted(comment_texts(as_mux)) == sorted(comment_texts(text))
    assert sorted(comment_texts(convert(as_mux, "mux", "toml"))) == sorted(comment_texts(text))


def test_comments_inside_toml_arrays_survive_as_comments_above_their_key() -> None:
    text = """name = "x"

[[steps]]
name = "a"
type = "shell"
run = "cat src/*.rs"
inputs = [
  "src/*.rs",  # the sources
  # and the manifest
  "Cargo.toml",
]
"""
    as_toml, as_mux = convert(text, "toml", "toml"), convert(text, "toml", "mux")
    assert '# the sources\n# and the manifest\ninputs = ["src/*.rs", "Cargo.toml"]\n' in as_toml
    assert comment_texts(as_mux) == [" the sources", " and the manifest"]
    assert convert(as_toml, "toml", "toml") == as_toml


def test_a_control_character_in_a_dsl_comment_is_written_as_its_escape() -> None:
    """TOML allows no control character in a comment: fmt writes it as ``\\u0000`` text, and
    both formats read the result back (a CRLF line's CR is just its line break)."""
    text = '#\x00 nul and\x1b[31m escape\r\nworkflow w "d"\r\n# plain\r\nshell a: echo hi\r\n'
    for to in ("toml", "mux"):
        written = convert(text, "mux", to)
        assert "#\\u0000 nul and\\u001b[31m escape\n" in written and "# plain\n" in written
        assert "\r" not in written and parse(written, to) is not None
