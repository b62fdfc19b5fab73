"""`muxc check` judges a save path by the text a template cannot change: a literal path whole, a
templated one only where its literal characters already decide it — never a false alarm on what
only the rendering decides (that is the build's job)."""

from __future__ import annotations

import pytest

from tests.frontend.support import diagnostics

REFUSED = {  # the save path -> the characters the diagnostic points at
    ".git/config": ".git",
    ".Git./hooks/pre-commit": ".Git.",
    "../{{ outdir }}/x.md": "..",
    "{{ outdir }}/../x.md": "..",
    "/etc/{{ outdir }}": "/etc/{{ outdir }}",
    "~/notes.md": "~/notes.md",
    "{{ outdir }}/.git/hooks/x": ".git",
    ".muxc/workflows/{{ outdir }}.mux": ".muxc",
    ".llm-mux/config.toml": ".llm-mux",
    ".envrc": ".envrc",
    "{{ outdir }}/.github/workflows/ci.yml": ".github/workflows",
    ".vscode/tasks.json": ".vscode",
}
ALLOWED = ["docs/notes.md", "{{ outdir }}/report.md", "{{ outdir }}.git/x", ".github/{{ outdir }}/x.yml",
           ".gitignore", ".github/CODEOWNERS", "docs/..notes.md", "{{ outdir }}"]


def check(muxc, project, save: str, flags: str = ""):
    (project / "w.mux").write_text(f'workflow w "t"\n\narg outdir = "docs" "d"\n\n'
                                   f'shell s > "{save}"{flags}: echo hi\n')
    return muxc("check", "--format", "json", str(project / "w.mux"))


@pytest.mark.parametrize("save", sorted(REFUSED))
def test_a_save_path_its_literal_text_refuses_is_reported_at_those_characters(muxc, project, save):
    result = check(muxc, project, save)
    [found] = diagnostics(result)
    assert found["code"] == "unsafe-save-path" and result.exit_code == 1
    start = len('shell s > "') + save.index(REFUSED[save]) + 1
    assert (found["line"], found["column"], found["end_column"]) == (5, start, start + len(REFUSED[save]))


@pytest.mark.parametrize("save", ALLOWED)
def test_a_save_path_only_the_rendering_decides_is_left_to_the_build(muxc, project, save):
    result = check(muxc, project, save)
    assert diagnostics(result) == [] and result.exit_code == 0


def test_the_opt_in_allows_tool_files_and_nothing_else(muxc, project):
    assert diagnostics(check(muxc, project, ".envrc", " [allow_tool_files = true]")) == []
    [found] = diagnostics(check(muxc, project, ".git/hooks/x", " [allow_tool_files = true]"))
    assert found["code"] == "unsafe-save-path"
