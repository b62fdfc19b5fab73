"""Apply steps write only where a model's answer can do no harm: never outside the project or
under `.git/`, `.muxc/` and `.llm-mux/`, and tool files that run code only with
`allow_tool_files = true`. A refused edit fails the step and every file is left as it was."""

from __future__ import annotations

import json
import os

import pytest

from tests.support.llm_server import Reply

APPLY = """
    workflow x "apply what the coder says"

    query fix @coder:
        Edit the project.

    apply apply from fix [verify_retries = 0{flags}]
    """

PAYLOAD = "[core]\n\tfsmonitor = touch pwned\n"
NEVER = {
    ".git/config": "files under .git/ are never written",
    ".muxc/config.toml": "files under .muxc/",
    ".llm-mux/workflows/x.toml": "files under .llm-mux/",
    "../outside.txt": 'paths may not contain ".." components',
    "meta/config": "it leads into .git/config through a symlink",
    "link/evil.txt": "a symlink in it leads outside the project root",
}
TOOL_FILES = [".envrc", ".github/workflows/ci.yml", ".pre-commit-config.yaml", ".vscode/settings.json",
              ".gitattributes"]


@pytest.fixture
def confined(proj, tmp_path):
    (tmp_path / "outside").mkdir()
    os.symlink(tmp_path / "outside", proj.root / "link")
    os.symlink(".git", proj.root / "meta")
    proj.write(".llm-mux/workflows/x.toml", 'name = "x"\n')
    proj.commit()
    return proj


def edits_of(paths) -> str:
    edits = [{"path": "innocent.txt", "content": "written only if every edit is allowed\n"}]
    return json.dumps({"edits": edits + [{"path": path, "content": PAYLOAD} for path in paths]})


def test_edits_into_protected_places_are_refused_and_every_file_is_untouched(confined, tmp_path):
    confined.workflow(APPLY.format(flags=", allow_tool_files = true"))  # the opt-in lifts none of these
    confined.commit()
    before, git_config = confined.tree(), confined.bytes(".git/config")
    confined.server.script(Reply(text=edits_of(NEVER)))
    done = confined.build(code=1)
    for path, rule in NEVER.items():
        assert f"{path!r} is refused: {rule}" in done.stderr
    assert confined.tree() == before and confined.bytes(".git/config") == git_config
    assert list((tmp_path / "outside").iterdir()) == [] and not (tmp_path / "outside.txt").exists()
    assert confined.status() == ""


def test_tool_files_are_refused_without_the_opt_in(confined):
    confined.workflow(APPLY.format(flags=""))
    confined.commit()
    before = confined.tree()
    confined.server.script(Reply(text=edits_of(TOOL_FILES)))
    done = confined.build(code=1)
    for path in TOOL_FILES:
        assert f"{path!r} is refused: " in done.stderr
    assert "set allow_tool_files = true on the step" in done.stderr
    assert confined.tree() == before
    assert confined.status() == ""


def test_tool_files_are_written_with_the_opt_in(confined):
    confined.workflow(APPLY.format(flags=", allow_tool_files = true"))
    confined.server.script(Reply(text=edits_of(TOOL_FILES)))
    confined.build()
    for path in TOOL_FILES:
        assert confined.read(path) == PAYLOAD
    assert confined.bytes(".git/config") != PAYLOAD.encode()


def test_a_failed_verify_puts_allowed_tool_files_back(confined):
    confined.write(".envrc", "export A=1\n")
    confined.commit()
    confined.workflow(APPLY.format(flags=', allow_tool_files = true, verify = "false", rollback_on_failure = true'))
    confined.server.script(Reply(text=edits_of([".envrc"])))
    assert "verify `false` exited with code 1" in confined.build(code=1).stderr  # applied, then put back
    assert confined.read(".envrc") == "export A=1\n"
    assert not (confined.root / "innocent.txt").exists()
