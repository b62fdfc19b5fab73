"""A plain command (``cp a b``: words only) starts without ``sh -c``, and nothing a step can see
tells the two apart: its arguments, its directory and ``$PWD``, a missing program's message and
exit code, a script without a ``#!`` line. Each plain command is checked beside the same command
made unplain (a pipe through ``cat``, a quote), which sh runs."""

from __future__ import annotations

import os

import pytest

from muxc.run.shellvalues import plain_argv


def steps(**commands: str) -> str:
    """One step per command, each saving its output to ``saved/NAME``."""
    lines = ['workflow w "plain and shell commands side by side"', ""]
    for name, command in commands.items():
        lines += [f'shell {name} [continue_on_error = true, save = "saved/{name}"]:', f"    {command}", ""]
    return "\n".join(lines)


def outputs(project) -> dict[str, str]:
    return {path.name: path.read_text().rstrip("\n") for path in (project.root / "saved").iterdir()}


def test_arguments_directory_and_pwd_are_what_sh_gives(project, monkeypatch):
    monkeypatch.setenv("PWD", "/")  # the caller's PWD names another directory: sh sets its own
    (project.root / "sub").mkdir()
    (project.root / "sub" / "a.txt").write_text("x")
    project.workflow(steps(plain_pwd="printenv PWD", shell_pwd="printenv PWD | cat",
                           plain_args="expr 1 +   2", shell_args="expr '1' + 2",
                           plain_file="ls sub", shell_file="ls 'sub'"))
    project.build("-j", "1")
    saved = outputs(project)
    assert saved["plain_pwd"] == saved["shell_pwd"] == os.path.realpath(project.root)
    assert saved["plain_args"] == saved["shell_args"] == "3"
    assert saved["plain_file"] == saved["shell_file"] == "a.txt"


def test_a_missing_program_fails_in_sh_s_words(project):
    project.workflow(steps(plain="no-such-program-muxc arg", shell="no-such-program-muxc 'arg'"))
    result = project.cli("build", "w", "-j", "1")  # continue_on_error: the build goes on
    plain, shell = result.stderr.split("error[step-failed]")[1:]
    assert "= note: exit code: 127" in plain
    assert "no-such-program-muxc: " in plain and "not found" in plain  # sh: dash or bash words
    assert _notes(plain).replace("arg", "'arg'") == _notes(shell)


def _notes(diagnostic: str) -> str:
    return diagnostic[diagnostic.index("= note:"):diagnostic.index("= run")]


def test_an_executable_script_without_an_interpreter_line_runs_under_sh(project):
    script = project.write("tool", "echo from the script $((6 * 7))\n")
    script.chmod(0o755)
    project.workflow(steps(plain="./tool"))
    project.build("-j", "1")
    assert outputs(project) == {"plain": "from the script 42"}


@pytest.mark.parametrize("command", [
    "echo -n x", "cd sub", "exit 3", "A=1 env", "ls *.txt", "cp ~/a b", "cp a b > c", "cp $X b", "cp a b; rm c",
    "cp 'a' b", "cp a\tb", "cat <<END", "true && false", "f() { :; }", "! true", "", "   ",
])
def test_what_means_something_to_the_shell_goes_to_the_shell(command):
    assert plain_argv(command, {"PATH": os.defpath}) is None


def test_plain_words_are_split_as_sh_splits_them():
    assert plain_argv("  cp  src/a.txt   out/b.txt \n", {"PATH": os.defpath}) == ["cp", "src/a.txt", "out/b.txt"]
    assert plain_argv("git commit -m x@y,z:1+2=3%", {"PATH": os.defpath}) == ["git", "commit", "-m", "x@y,z:1+2=3%"]
    assert plain_argv("cp a b", {}) is None  # no PATH: sh searches its own default path
    assert plain_argv("cp a b", {"PATH": os.defpath, "BASH_FUNC_cp%%": "() { :; }"}) is None  # bash would call it
