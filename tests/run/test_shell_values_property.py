"""No value ever becomes shell code: generated commands, hostile values, a real ``sh``.

Each example is a command of one to four pieces, each placing the value in a quoting context
(bare word with neighbours, double and single quotes, mixed, heredocs with plain and odd
delimiters, ``$( )``, backticks, a heredoc body's ``$( )``, ``${X:-...}``, an assignment), through
one of several Jinja spellings (``{{ v }}``, ``{{ v ~ '' }}``, ``| shell_escape`` whole or partial,
``{% if %}``). Every piece writes what the shell gave it to its own file; the value is drawn from
a hostile alphabet (quotes, ``$``, backticks, ``;|&<>(){}#``, new lines, backslashes, the heredoc
delimiters, ``$(touch ...)``, unicode). The command runs through the same code a build uses
(``render_command``, then ``run_with_values``), and each file must hold the value byte for byte
while nothing else was created.

The default run is bounded; ``MUXC_FUZZ=long`` (or ``--hypothesis-profile=long``) runs thousands.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from muxc.run.shellvalues import ShellCommand, render_command, run_with_values
from muxc.run.templating import RenderError
from tests.support.fuzz import examples

HOSTILE = ["'", '"', "$", "`", "\\", ";", "|", "&", "<", ">", "(", ")", "{", "}", "#", "\n", " ", "\t", "*", "~",
           "EOF", "END-OF", "_x1", "$(touch \"$OUT/PWNED\")", "`touch \"$OUT/PWNED\"`", "'; touch PWNED; '",
           "\"; touch PWNED; \"", "${HOME}", "$((1+1))", "é", "💥", "\u202e", "{{ v }}", "%s"]
VALUES = st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(st.characters(exclude_categories=("Cs",),
                                                                              exclude_characters="\x00"),
                                                                max_size=4)),
                  max_size=8).map("".join)

# Jinja spellings of "the value", each giving exactly the value's text
SPELLINGS = ["{{ v }}", "{{v}}", "{{ v ~ '' }}", "{{ v | shell_escape }}", "{{ '' ~ (v | shell_escape) }}",
             "{% if true %}{{ v }}{% endif %}", "{% if v is defined %}{{ v }}{% else %}x{% endif %}",
             "{% set w %}{{ v }}{% endset %}{{ w }}"]


def _nl_stripped(value: str) -> str:
    return value.rstrip("\n")


# (piece template with {V} for the value and {OUT} for its file, what the file must hold)
PIECES = [
    ("printf '%s' {V} > {OUT}", lambda v: v),
    ("printf '%s' x{V}#y > {OUT}", lambda v: f"x{v}#y"),
    ("printf '%s' --opt={V}.txt > {OUT}", lambda v: f"--opt={v}.txt"),
    ("printf '%s' \"<{V}> # '\" > {OUT}", lambda v: f"<{v}> # '"),
    ("printf '%s' '<{V}> # \"' > {OUT}", lambda v: f'<{v}> # "'),
    ("printf '%s' \"a\"{V}'b'{V} > {OUT}", lambda v: f"a{v}b{v}"),
    ("cat > {OUT} <<EOF\n{V}\nEOF", lambda v: v + "\n"),
    ("cat > {OUT} <<END-OF\nline {V} $HOME_IS_NOT_SET\nEND-OF", lambda v: f"line {v} \n"),
    ("cat > {OUT} <<-_x1\n\t{V}\n\t_x1", lambda v: v + "\n"),
    ("cat > {OUT} <<EOF\n$(printf '%s' {V})\nEOF", lambda v: _nl_stripped(v) + "\n"),
    ("printf '%s' \"$(printf '%s' {V})\" > {OUT}", _nl_stripped),
    ("printf '%s' \"$(printf '%s' \"{V}\" | cat)\" > {OUT}", _nl_stripped),
    ("printf '%s' \"`printf '%s' {V}`\" > {OUT}", _nl_stripped),
    ("printf '%s' \"${MUXC_TEST_UNSET:-{V}}\" > {OUT}", lambda v: v),
    ("x={V}; printf '%s' \"$x\" > {OUT}", lambda v: v),
    ("printf '%s' {V} | cat > {OUT} # {V} is not here", None),  # a value in a comment: refused at check
]
USABLE = [piece for piece in PIECES if piece[1] is not None]


def _command(pieces: list[tuple[int, int]]) -> tuple[str, dict[str, object]]:
    lines, expected = [], {}
    for number, (piece, spelling) in enumerate(pieces):
        template, produce = USABLE[piece]
        lines.append(template.replace("{V}", SPELLINGS[spelling]).replace("{OUT}", f'"$OUT/{number}"'))
        expected[str(number)] = produce
    return "\n".join(lines) + "\n", expected


def _run(template: str, value: str, out: Path) -> ShellCommand:
    command = render_command(template, {"v": value})
    result = run_with_values(command, cwd=out, environ={**os.environ, "OUT": str(out)}, timeout_s=20)
    assert result.ok, (result.exit_code, result.stderr, command.text)
    return command


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path


@settings(max_examples=examples(120), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=VALUES, pieces=st.lists(st.tuples(st.integers(0, len(USABLE) - 1), st.integers(0, len(SPELLINGS) - 1)),
                                     min_size=1, max_size=4))
@example(value="x\nEOF\ntouch PWNED\n", pieces=[(6, 0)])
@example(value="'$(touch PWNED)'", pieces=[(3, 3), (4, 4)])
@example(value="a#b; touch PWNED", pieces=[(1, 1), (7, 2)])
def test_a_value_reaches_the_shell_byte_for_byte_and_never_runs(out: Path, value: str, pieces) -> None:
    for leftover in out.iterdir():
        leftover.unlink()
    template, expected = _command(pieces)
    _run(template, value, out)
    got = {path.name: path.read_bytes().decode() for path in out.iterdir()}
    assert got == {name: produce(value) for name, produce in expected.items()}


def test_a_value_with_a_nul_byte_is_a_clear_error(out: Path) -> None:
    with pytest.raises(RenderError, match="NUL byte"):
        render_command("printf '%s' {{ v }}", {"v": "a\x00b"})


@pytest.mark.parametrize("size", [70_000, 200_000, 3_000_000])
def test_large_values_arrive_whole(out: Path, size: int) -> None:
    """Past the system's limit for one environment string the value goes through a private file."""
    value = ("line with 'quotes' and $(touch PWNED)\n" * (size // 38 + 1))[:size] + "\n\n"
    _run("printf '%s' {{ v }} > \"$OUT/big\"\nprintf '%s' \"{{ v }}\" | wc -c > \"$OUT/count\"", value, out)
    assert (out / "big").read_bytes().decode() == value
    assert int((out / "count").read_text()) == len(value.encode())
    assert sorted(p.name for p in out.iterdir()) == ["big", "count"]


def test_a_command_longer_than_one_argument_runs_from_a_private_file(out: Path) -> None:
    """A 300 KB command (its own text, not its values) is read from a private file by the shell."""
    lines = [f"printf '%s\\n' 'line {n}' >> \"$OUT/long\"" for n in range(8000)]
    _run("\n".join(lines) + "\nprintf '%s' {{ v }} > \"$OUT/value\"\n", "it's $(touch PWNED)", out)
    assert (out / "long").read_text().splitlines() == [f"line {n}" for n in range(8000)]
    assert (out / "value").read_text() == "it's $(touch PWNED)"
    assert sorted(p.name for p in out.iterdir()) == ["long", "value"]
