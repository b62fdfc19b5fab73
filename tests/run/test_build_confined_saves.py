"""Saved outputs stay where a model's answer can do no harm: inside the project, out of `.git/`,
`.muxc/` and `.llm-mux/`, and out of tool files that run code unless the step allows them.

A literal bad path is a check error (nothing runs); a path that only its arguments make bad fails
the step after its result is cached, writes nothing, and a fixed path is written from the cache.
"""

from __future__ import annotations

import os

import pytest

# The save path comes entirely from an argument, so only the build can judge it.
FROM_ARG = """
    workflow w "t"

    arg path = "docs/notes.md" "where the notes go"

    query notes @analyzer > "{{ path }}":
        Write notes.
    """

WITH_OUTDIR = """
    workflow w "t"

    arg outdir = "docs" "where the report goes"

    query report @analyzer > "{{ outdir }}/report.md":
        Write a report.
    """

REFUSED = {
    ".git/config": "files under .git/ are never written",
    ".git/hooks/pre-commit": "files under .git/ are never written",
    ".GIT/config": "files under .git/ are never written",
    "../x.md": 'paths may not contain ".." components',
    "docs/../../x.md": 'paths may not contain ".." components',
    ".muxc/config.toml": "files under .muxc/",
    ".llm-mux/workflows/x.toml": "files under .llm-mux/",
    "~/notes.md": "home-relative paths are not allowed",
}
TOOL_FILES = [".envrc", ".github/workflows/ci.yml", "sub/.envrc", ".pre-commit-config.yaml",
              ".vscode/tasks.json", ".husky/pre-commit", ".gitmodules"]


def tree(root) -> dict[str, bytes]:
    """Every file of the project except muxc's state, with its bytes."""
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*"))
            if path.is_file() and not path.relative_to(root).as_posix().startswith(".muxc/state/")}


@pytest.mark.parametrize("path", sorted(REFUSED))
def test_a_save_path_from_an_argument_that_breaks_a_rule_fails_the_step_and_writes_nothing(project, path):
    project.workflow(FROM_ARG)
    before = tree(project.root)
    built = project.build(f"path={path}", code=1)
    error = built.error("notes")
    assert f"its save path {path!r} is refused: {REFUSED[path]}" in error
    assert "nothing was written" in error
    assert tree(project.root) == before
    assert project.calls == 1  # the answer exists and is cached


def test_an_outdir_argument_leading_out_fails_and_the_fixed_one_is_written_from_the_cache(project, tmp_path):
    project.workflow(WITH_OUTDIR)
    built = project.build("outdir=../x", code=1)
    assert "'../x/report.md' is refused" in built.error("report")
    assert not (tmp_path / "x").exists()
    built = project.build("outdir=out")
    assert built.cached == {"report"}
    assert project.read("out/report.md") == "answer to: Write a report.\n"
    assert project.calls == 1


def test_an_absolute_save_path_is_refused(project, tmp_path):
    project.workflow(FROM_ARG)
    target = tmp_path / "abs.md"
    built = project.build(f"path={target}", code=1)
    assert "absolute paths are not allowed" in built.error("notes")
    assert not target.exists()


def test_a_save_path_through_a_symlink_leading_out_is_refused(project, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, project.root / "docs")
    project.workflow(WITH_OUTDIR)
    built = project.build(code=1)
    assert "a symlink in it leads outside the project root" in built.error("report")
    assert list(outside.iterdir()) == []


def test_a_save_path_through_a_symlink_into_git_is_refused(project):
    os.symlink(".git", project.root / "meta")
    project.workflow(FROM_ARG)
    config = project.read(".git/config")
    built = project.build("path=meta/config", code=1)
    assert "it leads into .git/config through a symlink" in built.error("notes")
    assert project.read(".git/config") == config


def test_a_refused_save_path_fails_again_when_the_step_is_up_to_date(project):
    project.workflow(FROM_ARG)
    project.build()
    assert project.build("path=.git/config", code=1).error("notes").startswith("its save path")
    assert project.build("path=.git/config", code=1).error("notes").startswith("its save path")
    assert project.calls == 1


@pytest.mark.parametrize("path", TOOL_FILES)
def test_tool_files_are_refused_without_the_opt_in(project, path):
    project.workflow(FROM_ARG)
    built = project.build(f"path={path}", code=1)
    assert "is tool metadata that can run code" in built.error("notes")
    assert "set allow_tool_files = true on the step" in built.error("notes")
    assert not (project.root / path).exists()


@pytest.mark.parametrize("path", TOOL_FILES)
def test_tool_files_are_written_with_the_opt_in(project, path):
    project.workflow(FROM_ARG.replace('> "{{ path }}":', '> "{{ path }}" [allow_tool_files = true]:'))
    project.build(f"path={path}")
    assert project.read(path) == "answer to: Write notes.\n"


def test_the_opt_in_never_lifts_the_hard_rules(project):
    project.workflow(FROM_ARG.replace('> "{{ path }}":', '> "{{ path }}" [allow_tool_files = true]:'))
    for path in (".git/config", "../x.md", ".muxc/config.toml", ".llm-mux/workflows/x.toml"):
        assert "is refused" in project.build(f"path={path}", code=1).error("notes")
    assert not (project.root.parent / "x.md").exists()


@pytest.mark.parametrize("path", [".git/config", "../x.md", ".muxc/config.toml", ".llm-mux/workflows/x.toml",
                                  ".envrc", ".github/workflows/ci.yml", "/etc/muxc-test.md"])
def test_a_literal_bad_save_path_is_a_check_error_and_nothing_runs(project, path):
    project.workflow(f"""
        workflow w "t"

        query notes @analyzer > "{path}":
            Write notes.
        """)
    before = tree(project.root)
    result = project.cli("build", "w")
    assert result.exit_code == 1
    assert "error[unsafe-save-path]" in result.stderr
    assert project.calls == 0
    assert tree(project.root) == before

