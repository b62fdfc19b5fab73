"""Saved outputs (`> "path"`): written, rewritten from the cache when deleted, never lost when
edited by hand; and the state directory stays out of git."""

from __future__ import annotations

import pytest

from tests.support.llm_server import Reply

SAVED = """
    workflow w "a saved report"

    arg outdir = "reports" "where the report goes"

    shell probe [inputs = ["src/*.txt"]]:
        echo probe >> "$COUNTER"
        cat src/*.txt

    query report @analyzer > "{{ outdir }}/report.md":
        Report on {{ probe }}
    """


@pytest.fixture
def saved(project):
    project.workflow(SAVED)
    project.write("src/a.txt", "alpha\n")
    built = project.build()
    assert built.ran == {"probe", "report"}
    assert built.step("report")["saved"] == str(project.root / "reports/report.md")
    project.ran()
    return project


def test_the_saved_file_holds_the_output(saved):
    assert saved.read("reports/report.md") == "answer to: Report on alpha\n"


def test_a_deleted_saved_file_is_written_again_without_asking(saved):
    (saved.root / "reports/report.md").unlink()
    built = saved.build()
    assert built.cached == {"probe", "report"}
    assert saved.read("reports/report.md") == "answer to: Report on alpha\n"
    assert saved.calls == 1 and saved.ran() == []


def test_a_deleted_directory_of_saved_files_is_written_again(saved):
    (saved.root / "reports/report.md").unlink()
    (saved.root / "reports").rmdir()
    saved.build()
    assert saved.read("reports/report.md") == "answer to: Report on alpha\n"
    assert saved.calls == 1


def test_a_hand_edited_file_is_left_alone_while_the_step_is_up_to_date(saved):
    saved.write("reports/report.md", "my own notes\n")
    result = saved.cli("build", "w")
    assert result.exit_code == 0
    assert "reports/report.md was edited since muxc wrote it; left as is" in result.stderr
    assert saved.read("reports/report.md") == "my own notes\n"
    assert saved.calls == 1
    # and it stays so on every later build
    assert saved.build().cached == {"probe", "report"}
    assert saved.read("reports/report.md") == "my own notes\n"


def test_a_hand_edited_file_is_kept_beside_a_new_result(saved):
    saved.write("reports/report.md", "my own notes\n")
    saved.write("src/a.txt", "beta\n")
    result = saved.cli("build", "w")
    assert result.exit_code == 0
    assert "reports/report.md had been edited; your version is kept as reports/report.md.orig" in result.stderr
    assert saved.read("reports/report.md") == "answer to: Report on beta\n"
    assert saved.read("reports/report.md.orig") == "my own notes\n"


def test_a_changed_save_path_writes_the_new_file_from_the_cache(saved):
    built = saved.build("outdir=elsewhere")
    assert built.cached == {"probe", "report"}
    assert saved.read("elsewhere/report.md") == "answer to: Report on alpha\n"
    assert saved.calls == 1


def test_a_new_answer_replaces_the_file_muxc_wrote(saved):
    saved.server.script(Reply(text="second opinion"))
    saved.build("--refresh", "report")
    assert saved.read("reports/report.md") == "second opinion\n"
    assert not (saved.root / "reports/report.md.orig").exists()


def test_the_state_directory_is_git_ignored(saved):
    state = saved.root / ".muxc" / "state"
    assert state.is_dir()
    assert (state / ".gitignore").read_text().splitlines()[-1] == "*"
    assert (state / "cache.db").is_file()
    saved.commit()
    assert saved.git("status", "--porcelain", "--untracked-files=all") == ""
    assert not [line for line in saved.git("ls-files").splitlines() if line.startswith(".muxc/state")]
    saved.build()
    assert saved.git("status", "--porcelain", "--untracked-files=all") == ""


def test_status_and_dry_run_never_write_a_saved_file(saved):
    report = saved.root / "reports/report.md"
    report.unlink()
    status = saved.cli("status", "w")
    assert status.exit_code == 0
    assert status.stdout.splitlines() == [
        "probe: up to date",
        "report: up to date — reports/report.md is missing: the next build writes it again from the cache"]
    assert not report.exists()
    saved.cli("build", "w", "--dry-run")
    assert not report.exists()
    saved.build()
    assert report.read_text() == "answer to: Report on alpha\n"


def test_status_mentions_a_hand_edited_saved_file(saved):
    saved.write("reports/report.md", "mine\n")
    status = saved.cli("status", "w")
    assert "report: up to date — reports/report.md was edited since muxc wrote it; a build leaves it as is" \
        in status.stdout.splitlines()
    assert saved.read("reports/report.md") == "mine\n"


def test_a_saved_file_that_cannot_be_written_fails_the_step_and_keeps_the_answer(project):
    project.workflow(SAVED)
    project.write("src/a.txt", "alpha\n")
    project.write("reports", "a file where the directory should be\n")
    result = project.cli("build", "w")
    assert result.exit_code == 1
    assert "error[step-failed]: step `report` failed: cannot write its saved file reports/report.md: " \
           "File exists" in result.stderr
    assert "its result is in the cache: fix the path and build again" in result.stderr
    assert project.calls == 1
    (project.root / "reports").unlink()
    again = project.build()
    assert again.cached == {"probe", "report"}
    assert project.read("reports/report.md") == "answer to: Report on alpha\n"
    assert project.calls == 1


def test_two_steps_saving_to_the_same_file_is_an_error_before_anything_runs(project):
    project.workflow("""
        workflow w "two steps, one file"

        arg name = "out" "the file"

        shell a > "{{ name }}.md":
            echo a >> "$COUNTER"

        shell b > "out.md":
            echo b >> "$COUNTER"
        """)
    result = project.cli("build", "w")
    assert result.exit_code == 1
    assert result.stderr == (".muxc/workflows/w.mux:8:11: error[bad-save-path]: `b` saves to out.md, and so does "
                             "`a` (help: give each step its own file: one would overwrite the other)\n")
    assert project.ran() == []
    assert project.build("name=other").ran == {"a", "b"}
