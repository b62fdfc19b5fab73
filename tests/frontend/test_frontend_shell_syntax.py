"""`muxc check` reads shell commands as `sh` will: `sh -n` and shellcheck, at the exact spot.

The messages themselves are snapshot cases (cases/shell-syntax-*.mux|toml, cases/shellcheck-*.mux);
these tests pin what a snapshot cannot show: where a value lands, the one-line format, and that
an unchanged command is not handed to the tools again.
"""

from __future__ import annotations

import json
from pathlib import Path

from muxc.check.shellsyntax import probe_command
from muxc.diagnostics.span import Span
from muxc.lang.document import Str
from tests.frontend.support import diagnostics


def _probe(text: str):
    return probe_command("s", "run", Str(text, Span(0, len(text)), ((0, 0),)))


def test_values_are_written_as_the_references_the_build_passes_them_by() -> None:
    probe = _probe("grep {{ pattern }} \"{{ file }}\" | sed 's/{{ a }}/x/' {#- a note -#} ; cat <<EOF\n{{ b }}\nEOF")
    assert probe.text == ('grep "${MUXC_V1}" "${MUXC_V2}" | sed \'s/\'"${MUXC_V3}"\'/x/\';'
                          ' cat <<EOF\n${MUXC_V4}\nEOF')


def test_a_probe_offset_maps_back_to_the_template_and_a_value_to_its_whole_braces() -> None:
    text = "echo {{ steps.a.output }} && if true; then\n  fi fi"
    probe = _probe(text)
    at = probe.text.rindex("fi")
    assert probe.span(at, at + 2) == Span(text.rindex("fi"), text.rindex("fi") + 2)
    inside_value = probe.text.index("MUXC_V1")
    span = probe.span(inside_value, inside_value + 3)
    assert text[span.start:span.end] == "{{ steps.a.output }}"


def test_commands_whose_text_depends_on_values_are_left_to_the_build() -> None:
    assert _probe("{% if x %}echo a{% else %}echo b{% endif %}") is None
    assert _probe("cat <<'EOF'\n{{ x }}\nEOF") is None  # no reference can go there: an error of its own


def test_concise_keeps_the_shell_message_and_its_help_on_one_line(muxc, project: Path) -> None:
    (project / "w.mux").write_text("workflow w\nshell a: for f in *.rs; do wc -l \"$f\"\n")
    result = muxc("check", "--format", "concise", "w.mux", cwd=project)
    assert result.exit_code == 0  # a warning: the build is the judge
    [line] = result.stdout.splitlines()
    assert line.startswith("w.mux:2:37: warning[shell-syntax]: sh cannot parse `run` of step `a`: end of file "
                           'unexpected (expecting "done") (help: fix the shell syntax')


def test_a_clean_command_and_a_commented_shellcheck_disable_give_nothing(muxc, project: Path) -> None:
    (project / "w.mux").write_text("workflow w\narg dir = \"src\"\nshell a:\n    # shellcheck disable=SC2164\n"
                                   "    cd {{ dir }}\n    ls \"$PWD\"\nshell b: test -n \"{{ dir }}\" && echo ok\n")
    result = muxc("check", "--format", "json", "w.mux", cwd=project)
    assert diagnostics(result) == []


def test_an_unchanged_command_is_not_handed_to_the_tools_again(muxc, project: Path, isolated_env) -> None:
    (project / "w.mux").write_text("workflow w\nshell a: if true; then echo\n")
    first = diagnostics(muxc("check", "--format", "json", "w.mux", cwd=project))
    assert [d["code"] for d in first] == ["shell-syntax"]
    cache = Path(isolated_env["XDG_CACHE_HOME"]) / "muxc" / "shell-syntax.json"
    entries = json.loads(cache.read_text())
    assert len(entries) == 1  # sh found the problem; shellcheck is not asked about a command sh cannot parse
    [key] = entries
    entries[key][0]["message"] = "remembered"  # what a second run shows comes from here, not from sh
    cache.write_text(json.dumps(entries))
    second = diagnostics(muxc("check", "--format", "json", "w.mux", cwd=project))
    assert second[0]["message"] == "sh cannot parse `run` of step `a`: remembered"


def test_the_explain_pointer_ends_each_full_diagnostic_and_stays_out_of_json(muxc, project: Path) -> None:
    (project / "w.mux").write_text("workflow w\nshell a: echo {{ steps.b.output }}\nshell c: if x; then y\n")
    full = muxc("check", "--format", "full", "w.mux", cwd=project).stdout
    blocks = full.strip().split("\n\n")
    assert len(blocks) == 2
    assert blocks[0].splitlines()[-1].strip() == \
        "= run `muxc explain unknown-step` for the explanation, an example and the fix"
    assert blocks[1].splitlines()[-1].strip() == \
        "= run `muxc explain shell-syntax` for the explanation, an example and the fix"
    as_json = muxc("check", "--format", "json", "w.mux", cwd=project).stdout
    assert "muxc explain" not in as_json


def test_no_shell_turns_the_shell_checks_off(muxc, project: Path) -> None:
    (project / "w.mux").write_text("workflow w\nshell c: if x; then y\n")
    assert [d["code"] for d in diagnostics(muxc("check", "--format", "json", "w.mux", cwd=project))] == [
        "shell-syntax"]
    assert diagnostics(muxc("check", "--format", "json", "--no-shell", "w.mux", cwd=project)) == []
    assert diagnostics(muxc("check", "--format", "json", "w.mux", cwd=project, env={"MUXC_CHECK_SHELL": "0"})) == []
