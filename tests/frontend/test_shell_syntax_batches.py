"""Many shell commands are parsed in a few processes, each on its own, and none is ever run.

`muxc check` hands a workflow's commands to `sh -n` and shellcheck in chunks (app.shelltools);
these tests pin what a user would notice if the batching went wrong: a verdict landing on the
wrong step, one command's broken quoting spilling into the next, a command being run, and a
big workflow being forgotten by the cache.
"""

from __future__ import annotations

import json
from pathlib import Path

from muxc.app.shellcache import ShellCache
from muxc.app.shelltools import Finding
from tests.frontend.support import diagnostics

BROKEN = {
    "quote": ('echo "abc', "Unterminated quoted string"),
    "fi": ("if true; then echo", 'end of file unexpected (expecting "fi")'),
    "done": ('for f in *; do echo "$f"', 'end of file unexpected (expecting "done")'),
    "paren": ("echo )", '")" unexpected'),
}


def _workflow(clean: int) -> str:
    lines = ["workflow w"]
    for name, (command, _) in BROKEN.items():
        lines.append(f"shell {name}: {command}")
        lines += [f"shell ok_{name}_{number}: touch ran-{name}-{number} && echo {number}" for number in range(clean)]
    lines.append("shell mark: printf '\\nmuxc-0 0\\n'; exit 3")  # looks like the separator, and exits
    lines.append("shell lint: cd src; ls")  # parses; shellcheck warns (SC2164) at this step only
    return "\n".join(lines) + "\n"


def test_each_command_gets_its_own_verdict_and_none_is_run(muxc, project: Path) -> None:
    (project / "w.mux").write_text(_workflow(clean=40))
    found = diagnostics(muxc("check", "--format", "json", "w.mux", cwd=project))
    by_step = {(d["code"], d["message"].split("step `")[1].split("`")[0]): d["message"] for d in found}
    assert sorted(by_step) == sorted([("shell-syntax", name) for name in BROKEN] + [("shellcheck", "lint")])
    for name, (_, message) in BROKEN.items():
        assert by_step[("shell-syntax", name)].endswith(f": {message}")
    assert "SC2164" in by_step[("shellcheck", "lint")]
    assert not list(project.glob("ran-*"))  # parsed, never run


def test_a_command_too_long_for_an_argument_is_still_parsed(muxc, project: Path) -> None:
    long = "echo " + "x" * 70_000 + " && if true; then echo"
    (project / "w.mux").write_text(f"workflow w\nshell a: echo short\nshell big: {long}\n")
    found = diagnostics(muxc("check", "--format", "json", "w.mux", cwd=project))
    assert [(d["code"], d["message"]) for d in found] == [
        ("shell-syntax", 'sh cannot parse `run` of step `big`: end of file unexpected (expecting "fi")')]


def test_a_big_workflow_is_remembered_whole(muxc, project: Path, isolated_env) -> None:
    commands = 2_100  # more than the 2,000 entries the cache used to keep
    # every other command is plain (app.shellplain): sh is not asked about those, so not remembered
    comments = ["", " # a comment (not plain)"]
    lines = ["workflow w", *(f"shell s{number}: cp in/{number} out/{number}{comments[number % 2]}"
                             for number in range(commands))]
    (project / "w.mux").write_text("\n".join(lines) + "\n")
    assert diagnostics(muxc("check", "--format", "json", "w.mux", cwd=project)) == []
    cache = Path(isolated_env["XDG_CACHE_HOME"]) / "muxc" / "shell-syntax.json"
    entries = json.loads(cache.read_text())
    assert len(entries) == commands + commands // 2  # shellcheck's verdict on every command, sh's on the others
    for key in entries:  # what a second run shows comes from here, not from the tools
        entries[key] = [{"tool": "sh", "message": "remembered", "line": 1}]
    cache.write_text(json.dumps(entries))
    again = diagnostics(muxc("check", "--format", "json", "w.mux", cwd=project))
    assert len(again) == commands and all(d["message"].endswith(": remembered") for d in again)


def test_the_cache_keeps_the_most_recently_used_entries_up_to_its_cap(tmp_path: Path) -> None:
    environ = {"XDG_CACHE_HOME": str(tmp_path)}
    first = ShellCache(environ)
    for number in range(4):
        first.put("sh", f"old {number}", [])
    first.save()
    second = ShellCache(environ)
    second.LIMIT = 3
    assert second.get("sh", "old 0") == []  # used this run: kept
    second.put("sh", "new", [Finding("sh", "bad", 2)])
    second.save()
    third = ShellCache(environ)
    kept = {text for text in ("old 0", "old 1", "old 2", "old 3", "new") if third.get("sh", text) is not None}
    assert kept == {"old 0", "old 3", "new"}
    assert third.get("sh", "new") == [Finding("sh", "bad", 2)]
    assert third.get("shellcheck", "new") is None  # another tool: another verdict
    assert not list((tmp_path / "muxc").glob(".shell-syntax.*"))  # no temporary file left behind


def test_an_unreadable_cache_is_an_empty_one(muxc, project: Path, isolated_env) -> None:
    cache = Path(isolated_env["XDG_CACHE_HOME"]) / "muxc" / "shell-syntax.json"
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text('{"half": [')  # a file cut short
    (project / "w.mux").write_text("workflow w\nshell a: if true; then echo\n")
    assert [d["code"] for d in diagnostics(muxc("check", "--format", "json", "w.mux", cwd=project))] == [
        "shell-syntax"]
    assert len(json.loads(cache.read_text())) == 1


def test_the_projects_shellcheckrc_is_read_and_a_change_to_it_is_not_hidden_by_the_cache(muxc, project: Path) -> None:
    (project / "w.mux").write_text("workflow w\nshell b: cd src; ls\n")

    def found() -> list[str]:
        return [d["message"].split(" in ")[0] for d in
                diagnostics(muxc("check", "--format", "json", "w.mux", cwd=project))]

    assert found() == ["shellcheck SC2164"]
    (project / ".shellcheckrc").write_text("disable=SC2164\n")
    assert found() == []
    (project / ".shellcheckrc").unlink()
    assert found() == ["shellcheck SC2164"]


def test_the_users_shellcheckrc_is_read_and_a_change_to_it_is_not_hidden_by_the_cache(
        muxc, project: Path, isolated_env) -> None:
    (project / "w.mux").write_text("workflow w\nshell b: cd src; ls\n")
    user_rc = Path(isolated_env["XDG_CONFIG_HOME"]) / "shellcheckrc"
    user_rc.parent.mkdir(parents=True, exist_ok=True)

    def found() -> list[str]:
        return [d["message"].split(" in ")[0] for d in
                diagnostics(muxc("check", "--format", "json", "w.mux", cwd=project))]

    assert found() == ["shellcheck SC2164"]
    user_rc.write_text("disable=SC2164\n")
    assert found() == []
    home_rc = Path(isolated_env["HOME"]) / ".shellcheckrc"  # shellcheck reads this one first
    home_rc.write_text("enable=all\n")
    assert found() == ["shellcheck SC2164"]


def test_workflows_checked_together_get_the_verdicts_each_gets_alone(muxc, project: Path) -> None:
    # the first is big enough for its commands to go to the tools before the second is parsed
    # (app.shellsyntax.ShellJudge.EARLY); the second shares a command with it and breaks another
    big = ["workflow big", *(f"shell s{number}: cp in/{number} out/{number}" for number in range(300)),
           "shell shared: cd src; ls", 'shell broken: echo "abc']
    (project / "big.mux").write_text("\n".join(big) + "\n")
    (project / "small.mux").write_text("workflow small\nshell again: cd src; ls\nshell bad: if true; then echo\n")

    def found(*files: str) -> list[tuple[str, str, str]]:
        result = muxc("check", "--format", "json", *files, cwd=project)
        return [(d["file"], d["code"], d["message"]) for d in diagnostics(result)]

    together = found("big.mux", "small.mux")
    assert together == found("big.mux") + found("small.mux")
    assert [(file, code) for file, code, _ in together] == [
        ("big.mux", "shellcheck"), ("big.mux", "shell-syntax"), ("small.mux", "shellcheck"), ("small.mux", "shell-syntax")]


def test_a_command_starting_with_a_dash_is_parsed_as_a_command_not_as_options_of_sh(muxc, project: Path) -> None:
    (project / "w.mux").write_text('workflow w\nshell a: -x "$f"\nshell b: -e "unclosed\n')
    found = diagnostics(muxc("check", "--format", "json", "w.mux", cwd=project))
    assert [(d["code"], d["message"].split("step `")[1][0]) for d in found] == [("shellcheck", "a"), ("shell-syntax", "b")]
    assert "SC2215" in found[0]["message"]  # "this flag is used as a command name"
    assert "Illegal option" not in found[1]["message"]
