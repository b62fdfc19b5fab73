"""A command `plainly_parses` vouches for is accepted by every real shell here, `sh -n` style.

`muxc check` gives such a command sh's verdict "parses" without starting sh (app.shellplain).
A wrong yes would hide a syntax error the user is owed a warning for, so the claim is checked
against the shells themselves on edge cases and on a generated corpus of near misses.
"""

from __future__ import annotations

import random
import shutil
import subprocess

import pytest

from muxc.app.shellplain import plainly_parses

PLAIN = [
    "cp src/c0.txt out/c0_0.txt", "make -j4 all", "a | b", "a && b || c", "a; b", "a & b", "a &", "a;",
    "a\nb\n", "\n a\n\n b \n", "a |\n  b", "a &&\n\n b", "cc -o x.o x.c 2>/dev/null", "a >f", "a>>f<g",
    "a 2>&1", "a >&-", "A=b c", "x=1", "a 2>&1 | b > out.txt", "git log --format=%H -n 1",
    "curl -fsS https://example.com/a,b:c@d -o +x", 'echo "${MUXC_V1}" | wc -l', "grep 'a|b*' \"$f\" > out",
    "sed 's/'\"${MUXC_V3}\"'/x/' f", 'echo "if" \'fi\' "a\nb" \'#x\'', "echo $x${y}z $1 $# $@ $?", 'A="a b" c', "echo $HOME 'x' \"x\"",
]
NOT_PLAIN = [
    "", " ", "\n", "> ", "> f", "a |", "| a", "a ;; b", "fi", "a && && b", "a >", "a > ", "a & ; b", "; a", "a\n;", "a &> f",
    "a | | b", "a || && b", "echo `x`", "echo \\x", "ls *.c", "a # b",
    "! a", "{ a; }", "(a)", "a <<EOF", "for x in y; do z; done", "if a; then b; fi", "time a", "a | time b",
    'echo "$(x)"', "echo $(x)", 'echo "a', "echo 'a", 'echo "${x"', 'echo "${x:-y}"', 'echo "!"', "echo $",
    'echo "a\\b"', "echo $'x'", 'a >&1"x"', "echo ${#x}", "echo ${x}[0]",
    "function", "select", "a <>f", "a >|f", "a >&foo", "a >&1x", "echo ~", "a ^ b", "caf\u00e9", "a\r\nb", "a\tb\\", "done",
]


@pytest.mark.parametrize("command", PLAIN)
def test_plain_commands_are_recognised(command: str) -> None:
    assert plainly_parses(command)


@pytest.mark.parametrize("command", NOT_PLAIN)
def test_anything_else_is_left_to_sh(command: str) -> None:
    assert not plainly_parses(command)


FRAGMENTS = [
    "a", "cp", "x.txt", "2", "-f", "A=b", "fi", "done", "in", "time", "then", "|", "||", "&&", "&", ";", ";;",
    ">", ">>", "<", "<>", ">|", ">&", "<&", "1", "-", "\n", " ", "\t", "(", ")", "{", "}", "!", "#", "'", '"',
    "$", "`", "\\", "*", "<<", "=", "%", ",", ":", "'x y'", "'", '"', '"a b"', '"$x"', '"${x}"', "$x", "${x}", '"${x"',
    "$1", "$#", '"if"', "'fi'", '"a|b;c"', '"*"', '"#"', "'#'", '"!"', '"\\"', "$(", '"`"', "$'", "'\n'",
]


def _corpus(size: int) -> list[str]:
    rng = random.Random(13)
    commands = PLAIN + NOT_PLAIN
    while len(commands) < size:
        parts = rng.choices(FRAGMENTS, k=rng.randint(1, 7))
        commands.append("".join(part + rng.choice(["", " ", " "]) for part in parts))
    return commands


def _shells() -> list[list[str]]:
    found = [["sh"]] if shutil.which("sh") else []
    if shutil.which("dash"):
        found.append(["dash"])
    if shutil.which("bash"):
        found += [["bash"], ["bash", "--posix"]]
    return found


def _accepted(shell: list[str], commands: list[str]) -> list[bool]:
    """`shell -n -c -- COMMAND` for each command (one looping sh, so the corpus costs a few seconds)."""
    loop = 'shell=$1; shift; for c do $shell -n -c -- "$c" >/dev/null 2>&1 </dev/null; echo $?; done'
    out = subprocess.run(["sh", "-c", loop, "sh", " ".join(shell), *commands], capture_output=True, text=True,
                         check=True, timeout=300).stdout.split()
    assert len(out) == len(commands)
    return [status == "0" for status in out]


def test_every_shell_accepts_what_plainly_parses_vouches_for() -> None:
    shells = _shells()
    if not shells:
        pytest.skip("no sh on PATH")
    commands = _corpus(1500)
    vouched = [command for command in commands if plainly_parses(command)]
    assert len(vouched) > 100  # the corpus reaches the subset's edges, not just its outside
    for shell in shells:
        rejected = [command for command, ok in zip(vouched, _accepted(shell, vouched), strict=True) if not ok]
        assert rejected == [], f"{' '.join(shell)} -n rejects commands plainly_parses accepts"
    # and the near misses are real: the shells reject some of what the subset leaves out
    left = [command for command in commands if not plainly_parses(command)]
    assert not all(_accepted(shells[0], left))
