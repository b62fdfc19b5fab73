"""An incremental build gives exactly what a clean build gives, and asks again only when a key changed.

Each test is one of the ways a rebuild used to hand back an old result or pay for unchanged work
(issue 18), in the shape a user meets it: edit, build, look at the saved file, the output, what
ran. The generated version of these is ``test_never_stale.py``.
"""

from __future__ import annotations

import os
import shutil

import pytest

# -- stale results ----------------------------------------------------------------------------


SAVED_FROM_INPUT = """
    workflow w "t"

    shell s > "out/s.txt" [inputs = ["f.txt"]]:
        cat f.txt
    """


@pytest.mark.parametrize("git", [True, False], ids=["git", "no-git"])
def test_switching_back_to_a_state_built_before_rewrites_its_saved_file(project, git):
    if not git:
        shutil.rmtree(project.root / ".git")
    project.workflow(SAVED_FROM_INPUT)
    for text in ("old", "new", "old"):
        project.write("f.txt", text + "\n")
        built = project.build()
        assert project.read("out/s.txt") == text + "\n"
    assert built.cached == {"s"}
    status = project.cli("status", "w")
    assert "rewrites" not in status.stdout + status.stderr


def test_switching_an_argument_back_rewrites_the_saved_file(project):
    project.workflow("""
        workflow w "t"

        arg base = "main" "a branch"

        shell s > "out/s.txt": echo {{ base }}
        """)
    for base in ("main", "dev", "main"):
        project.build(f"base={base}")
        assert project.read("out/s.txt") == base + "\n"


def test_blank_lines_in_an_upstream_output_reach_the_command_that_reads_it(project):
    project.workflow("""
        workflow w "t"

        shell table [inputs = ["t.txt"]]: cat t.txt

        shell count: printf '%s\\n' {{ table }} | wc -l
        """)
    project.write("t.txt", "a\nb  \nc\n")
    assert project.build().output.strip() == "3"
    project.write("t.txt", "a\n\n\n\nb\nc\n")
    assert project.build().output.strip() == "6"


def test_white_space_a_value_brings_into_a_prompt_is_part_of_the_key(project):
    project.workflow("""
        workflow w "t"

        shell table [inputs = ["t.txt"]]: cat t.txt

        query ask @analyzer:
            Count the rows of {{ table }}
        """)
    project.write("t.txt", "a  \nb\n")
    project.build()
    project.write("t.txt", "a\nb\n")
    built = project.build()
    assert built.ran == {"table", "ask"}
    assert built.output.startswith("answer to: Count the rows of a\nb")


def test_trailing_spaces_inside_a_heredoc_are_data(project):
    body = "cat <<EOF\n                a{spaces}\n                EOF"  # the step body's indentation below
    for spaces in ("   ", ""):
        project.workflow(f"""
            workflow w "t"

            shell s [inputs = []]:
                {body.format(spaces=spaces)}
                printf '|'
            """)
        assert project.build().output == f"a{spaces}\n|"


def test_a_cosmetic_edit_of_a_prompt_still_reruns_nothing(project):
    for blank in ("", "\n\n"):
        project.workflow(f"""
            workflow w "t"

            query ask @analyzer:
                Say hello.{blank}
            """)
        project.build()
    assert project.calls == 1


def test_renaming_the_workflow_reruns_a_step_that_prints_its_name(project):
    for name in ("first", "second"):
        project.workflow(f"""
            workflow {name} "t"

            shell s [inputs = []]: echo {{{{ workflow }}}}
            """)
        assert project.build().output == name


@pytest.mark.parametrize("template", ['{{ env[args.var] }}', '{% set n = "GREETING" %}{{ env[n] }}',
                                      '{{ env.get(args.var) }}'], ids=["subscript", "set-name", "get"])
def test_an_environment_value_read_through_a_computed_name_reruns_the_step(project, monkeypatch, template):
    project.workflow(f"""
        workflow w "t"

        arg var = "GREETING" "which variable"

        shell s [inputs = []]: echo '{template}'
        """)
    for greeting in ("hello", "bonjour"):
        monkeypatch.setenv("GREETING", greeting)
        assert project.build().output == greeting


@pytest.mark.parametrize("how", ["same-mtime", "same-mtime-and-size-in-the-same-second"])
def test_a_file_rewritten_with_its_size_and_mtime_restored_is_hashed_again(project, how):
    project.workflow(SAVED_FROM_INPUT)
    path = project.write("f.txt", "aaa\n")
    project.build()
    before = path.stat()
    path.write_text("bbb\n")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # what cp -p, rsync -t, tar x and touch -r do
    assert project.build().output == "bbb"
    if how.endswith("second"):  # a second rewrite right after: racy on coarse timestamps, even if ctime matched
        path.write_text("ccc\n")
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert project.build().output == "ccc"


def test_renaming_a_workflow_does_not_take_its_own_saved_file_for_a_hand_edit(project):
    for name in ("first", "second", "first"):
        project.workflow(SAVED_FROM_INPUT.replace('workflow w "t"', f'workflow {name} "t"'))
        project.write("f.txt", f"{name}\n")
        built = project.build()
        assert project.read("out/s.txt") == f"{name}\n"
        assert "edited" not in built.stderr
    assert not list((project.root / "out").glob("*.orig*"))


def test_a_step_skipped_by_if_leaves_no_saved_file(project):
    project.workflow("""
        workflow w "t"

        arg run = "yes" "whether to report"

        shell report > "out/report.md" [if = "args.run == 'yes'", inputs = []]: echo monday
        """)
    project.build()
    assert project.read("out/report.md") == "monday\n"
    built = project.cli("build", "w", "run=no")
    assert not (project.root / "out/report.md").exists()
    assert "out/report.md was removed: its step was skipped" in built.stderr
    project.build()
    project.write("out/report.md", "my notes\n")
    project.build("run=no")
    assert not (project.root / "out/report.md").exists()
    assert project.read("out/report.md.orig") == "my notes\n"


def test_a_failed_step_leaves_no_saved_file_of_an_earlier_run(project):
    project.workflow("""
        workflow w "t"

        shell report > "out/report.md" [inputs = ["ok.txt"]]: cat ok.txt
        """)
    project.write("ok.txt", "fine\n")
    project.build()
    (project.root / "ok.txt").unlink()
    project.build(code=1)
    assert not (project.root / "out/report.md").exists()


def test_second_hand_edit_keeps_the_first_ones_copy_and_the_note_names_it(project):
    project.workflow(SAVED_FROM_INPUT)
    notes = []
    for number, text in enumerate(("one", "two", "three")):
        project.write("f.txt", text + "\n")
        if number:
            project.write("out/s.txt", f"my edit {number}\n")
        built = project.cli("build", "w")  # the plain output: notes on stderr
        assert built.exit_code == 0
        notes.append(built.stderr)
    assert project.read("out/s.txt.orig") == "my edit 1\n"
    assert project.read("out/s.txt.orig.1") == "my edit 2\n"
    assert "your version is kept as out/s.txt.orig\n" in notes[1]
    assert "your version is kept as out/s.txt.orig.1\n" in notes[2]


# -- wasted work: a project-reading backend (as claude -p) is asked again for nothing -----------


@pytest.fixture
def reader(project):
    """A query whose backend reads the project: its key holds the project's state."""
    text = project.read(".muxc/config.toml").replace('model = "m"', 'model = "m"\nreads_project = true')
    project.write(".muxc/config.toml", text)
    project.write("src/lib.rs", "fn main() {}\n")
    project.write("review.mux", """workflow w "t"

arg outdir = "main" "where the report goes"

query review @analyzer > "{{ outdir }}/review.md":
    Review the project.
""")
    project.commit()
    build = project.build
    project.build = lambda *args, **kw: build(*args, workflow="review.mux", **kw)  # by path, as in an editor
    project.build()
    assert project.calls == 1
    return project


def test_temporary_files_of_muxc_are_not_project_state(reader):
    reader.write("src/.muxc-tmp.review.md.abc123.tmp", "half written")
    reader.build()
    assert reader.calls == 1


@pytest.mark.parametrize("action", ["git add", "git status after a same-bytes rewrite", "same-tree checkout"])
def test_git_bookkeeping_that_changes_nothing_git_sees_asks_nothing(reader, action):
    if action == "git add":
        reader.git("add", "src/lib.rs")
    elif action.startswith("git status"):
        (reader.root / "src/lib.rs").write_text("fn main() {}\n")
        reader.git("status")
    else:
        reader.git("checkout", "-q", "-b", "other")
    reader.build()
    assert reader.calls == 1


def test_a_new_commit_is_project_state(reader):
    """HEAD is part of the project's state (a command may run `git log`): documented, with the way
    out (`inputs`) in docs/caching.md."""
    reader.git("-c", "user.name=t", "-c", "user.email=t@t.invalid", "commit", "-q", "--allow-empty", "-m", "empty")
    reader.build()
    assert reader.calls == 2


@pytest.mark.parametrize("edit", ["llm-mux config", "workflow comment"])
def test_config_and_the_workflow_file_are_not_project_state(reader, edit):
    if edit == "llm-mux config":
        reader.write(".llm-mux/config.toml", "# a comment\n")
    else:
        path = reader.root / "review.mux"
        path.write_text(path.read_text() + "\n# a comment\n")
    reader.build()
    assert reader.calls == 1


def test_a_save_path_that_follows_an_argument_is_never_project_state(reader):
    for outdir in ("dev", "main", "dev"):
        reader.build(f"outdir={outdir}")
    assert reader.calls == 1
    assert (reader.root / "main/review.md").exists() and (reader.root / "dev/review.md").exists()


# -- the fast path's guards: each thing it trusts, changed --------------------------------------


def test_a_build_from_a_subdirectory_is_the_same_build(project):
    project.workflow(SAVED_FROM_INPUT)
    project.write("f.txt", "one\n")
    project.build()
    (project.root / "src").mkdir()
    os.chdir(project.root / "src")
    again = project.build()
    assert again.cached == {"s"} and project.read("out/s.txt") == "one\n"
    project.write("f.txt", "two\n")
    assert project.build().output == "two" and project.read("out/s.txt") == "two\n"


def test_a_changed_model_in_the_config_reruns_the_query(project):
    project.workflow("""
        workflow w "t"

        query ask @analyzer:
            Say hello.
        """)
    project.build()
    project.config(model="other")
    assert project.build().ran == {"ask"}
    assert project.calls == 2


def test_an_environment_variable_the_config_reads_reruns_the_query(project, monkeypatch):
    text = project.read(".muxc/config.toml").replace('model = "m"', 'model = "${MUXC_TEST_MODEL:-m}"')
    project.write(".muxc/config.toml", text)
    project.workflow("""
        workflow w "t"

        query ask @analyzer:
            Say hello.
        """)
    project.build()
    monkeypatch.setenv("MUXC_TEST_MODEL", "other")
    assert project.build().ran == {"ask"}
    monkeypatch.delenv("MUXC_TEST_MODEL")
    assert project.build().cached == {"ask"}
    assert project.calls == 2


def test_a_plan_file_muxc_did_not_sign_is_never_used(project):
    project.workflow(SAVED_FROM_INPUT)
    project.write("f.txt", "one\n")
    project.build()
    for plan in (project.root / ".muxc/state/plans").glob("*.plan"):
        data = bytearray(plan.read_bytes())
        data[-1] ^= 1  # one bit of the payload: the signature no longer matches
        plan.write_bytes(bytes(data))
    assert project.build().cached == {"s"}
    assert project.read("out/s.txt") == "one\n"
