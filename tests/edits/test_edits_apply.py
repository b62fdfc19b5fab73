"""Planning and applying edits in real git repositories: each format end to end, all or
nothing, matching rules, and what must be preserved (line endings, final newline, BOM, mode)."""

from __future__ import annotations

import errno
import importlib
import os
import stat
import subprocess

from muxc.edits import ApplyFailure, EditSet, Plan, Replace, Write, apply, plan

APP = "src/app.py"


def test_json_replace_applies_and_reports_a_diff(repo) -> None:
    applied = repo.apply('{"path": "src/app.py", "old": "print(\'hello\')", "new": "print(\'bye\')"}')
    assert b"print('bye')" in repo.read(APP)
    assert applied.summary == "1 file changed: src/app.py (+1 −1)"
    assert applied.diff.startswith("--- a/src/app.py\n+++ b/src/app.py\n@@ -1,5 +1,5 @@\n")
    assert "-    print('hello')\n+    print('bye')\n" in applied.diff


def test_the_reported_diff_is_accepted_by_git_apply(repo) -> None:
    applied = repo.apply(
        '[{"path": "src/app.py", "old": "hello", "new": "bye"}, {"path": "docs/n.md", "content": "x\\n"}]'
    )
    repo.git("stash", "-u", "-q")  # back to the committed tree, then replay the reported diff
    subprocess.run(["git", "apply", "--check", "-"], cwd=repo.root, input=applied.diff, text=True, check=True)


def test_json_content_creates_a_file_and_its_directories(repo) -> None:
    applied = repo.apply('{"path": "pkg/sub/mod.py", "content": "X = 1\\n"}')
    assert repo.read("pkg/sub/mod.py") == b"X = 1\n"
    assert applied.created_dirs == ("pkg", "pkg/sub")
    assert applied.summary == "1 file changed: pkg/sub/mod.py (created, +1 −0)"
    assert "--- /dev/null\n+++ b/pkg/sub/mod.py\n@@ -0,0 +1 @@\n+X = 1\n" in applied.diff


def test_empty_old_creates_a_missing_file(repo) -> None:
    repo.apply('{"path": "new.txt", "old": "", "new": "fresh\\n"}')
    assert repo.read("new.txt") == b"fresh\n"


def test_empty_old_on_an_existing_file_is_refused(repo) -> None:
    message = repo.refuse('{"path": "README.md", "old": "", "new": "x"}')
    assert "old is empty but README.md exists; use content to overwrite it" in message


def test_unified_diff_with_drifted_line_numbers_multi_file_multi_hunk(repo) -> None:
    output = """```diff
--- a/src/app.py
+++ b/src/app.py
@@ -40,2 +40,2 @@
 def main():
-    print('hello')
+    print('bye')
@@ -90,2 +90,3 @@
 if __name__ == '__main__':
     main()
+    main()
--- README.md
+++ README.md
@@ -7 +7,2 @@
 # project
+More.
```"""
    applied = repo.apply(output)
    assert (
        repo.read(APP)
        == b"def main():\n    print('bye')\n\n\nif __name__ == '__main__':\n    main()\n    main()\n"
    )
    assert repo.read("README.md") == b"# project\nMore.\n"
    assert applied.summary == "2 files changed: src/app.py (+2 −1), README.md (+1 −0)"


def test_diff_creating_a_file_from_dev_null(repo) -> None:
    repo.apply("--- /dev/null\n+++ b/tools/run.sh\n@@ -0,0 +1,2 @@\n+#!/bin/sh\n+echo hi\n")
    assert repo.read("tools/run.sh") == b"#!/bin/sh\necho hi\n"


def test_diff_deleting_a_file(repo) -> None:
    applied = repo.apply("--- a/README.md\n+++ /dev/null\n@@ -1 +0,0 @@\n-# project\n")
    assert not (repo.root / "README.md").exists()
    assert applied.summary == "1 file changed: README.md (deleted, +0 −1)"


def test_diff_with_a_blank_context_line_stripped_by_the_llm(repo) -> None:
    output = "--- a/src/app.py\n+++ b/src/app.py\n@@ -2,4 +2,4 @@\n     print('hello')\n\n\n-if __name__ == '__main__':\n+if True:\n"
    repo.apply(output)
    assert b"\n\n\nif True:\n    main()\n" in repo.read(APP)


def test_diff_hunk_that_fits_two_places_far_from_its_line_is_refused_with_lines(repo) -> None:
    repo.write("twice.txt", "x\nsame\ny\n" + "filler\n" * 30 + "same\nz\n")
    message = repo.refuse("--- a/twice.txt\n+++ b/twice.txt\n@@ -17 +17 @@\n-same\n+other\n")
    assert "fits 2 places, at lines 2, 34" in message


def test_diff_hunk_near_its_stated_line_wins_over_a_far_one(repo) -> None:
    repo.write("twice.txt", "x\nsame\ny\n" + "filler\n" * 30 + "same\nz\n")
    repo.apply("--- a/twice.txt\n+++ b/twice.txt\n@@ -31 +31 @@\n-same\n+other\n")
    assert repo.read("twice.txt").endswith(b"filler\nother\nz\n")


def test_diff_hunk_that_does_not_fit_shows_the_closest_region(repo) -> None:
    message = repo.refuse(
        "--- a/src/app.py\n+++ b/src/app.py\n@@ -1,2 +1,2 @@\n def main():\n-    print('helo')\n+    x\n"
    )
    assert "context and removed lines were not found" in message
    assert "The closest region" in message and "1 | def main():" in message


def test_search_replace_blocks_apply(repo) -> None:
    output = "src/app.py\n```\n<<<<<<< SEARCH\n    print('hello')\n=======\n    print('bye')\n>>>>>>> REPLACE\n```\n"
    repo.apply(output)
    assert b"print('bye')" in repo.read(APP)


def test_search_replace_empty_search_appends_to_an_existing_file(repo) -> None:
    repo.apply("README.md\n<<<<<<< SEARCH\n=======\nAppended.\n>>>>>>> REPLACE\n")
    assert repo.read("README.md") == b"# project\nAppended.\n"


def test_several_edits_to_one_file_apply_in_order(repo) -> None:
    output = (
        '[{"path": "README.md", "old": "project", "new": "thing"},'
        ' {"path": "README.md", "old": "# thing", "new": "# the thing"}]'
    )
    repo.apply(output)
    assert repo.read("README.md") == b"# the thing\n"


def test_all_or_nothing_when_the_second_edit_is_invalid(repo) -> None:
    before = repo.tree()
    result = repo.plan(
        '[{"path": "README.md", "old": "project", "new": "thing"},'
        ' {"path": "src/app.py", "old": "not there", "new": "x"},'
        ' {"path": "brand/new.txt", "content": "x"}]'
    )
    assert isinstance(result, ApplyFailure)
    assert result.message.startswith("1 of 3 edits cannot be applied, so none was applied")
    assert [problem.edit for problem in result.problems] == [2]
    assert repo.tree() == before and not (repo.root / "brand").exists()


def test_every_invalid_edit_is_reported_and_later_edits_of_a_broken_file_are_not_checked(repo) -> None:
    result = repo.plan(
        '[{"path": "README.md", "old": "nope", "new": "x"},'
        ' {"path": "README.md", "old": "project", "new": "y"},'
        ' {"path": "../outside", "content": "x"}]'
    )
    assert isinstance(result, ApplyFailure)
    assert [problem.edit for problem in result.problems] == [1, 2, 3]
    assert "not checked: an earlier edit of README.md failed" in result.problems[1].message
    assert result.message.startswith("2 of 3 edits")


def test_ambiguous_old_is_refused_with_every_line_number(repo) -> None:
    repo.write("dup.py", "x = 1\nprint(x)\nx = 1\n\nx = 1\n")
    message = repo.refuse('{"path": "dup.py", "old": "x = 1", "new": "x = 2"}')
    assert "old text matches 3 places in dup.py, at lines 1, 3, 5" in message


def test_missing_old_shows_the_closest_region(repo) -> None:
    message = repo.refuse(
        '{"path": "src/app.py", "old": "def main():\\n    print(\\"hello\\")\\n", "new": ""}'
    )
    assert "old text was not found in src/app.py" in message
    assert "The closest region" in message and "lines 1-2" in message
    assert "    2 |     print('hello')" in message


def test_whitespace_normalised_fallback(repo) -> None:
    repo.write("ws.py", "a = 1   \nb = 2\t\nc = 3\n")
    repo.apply('{"path": "ws.py", "old": "a = 1\\nb = 2\\n", "new": "a = 10\\nb = 20\\n"}')
    assert repo.read("ws.py") == b"a = 10\nb = 20\nc = 3\n"


def test_whitespace_normalised_fallback_must_be_unique(repo) -> None:
    repo.write("ws.py", "a = 1 \nb\na = 1\t\n")
    message = repo.refuse('{"path": "ws.py", "old": "a = 1\\n", "new": "x\\n"}')
    assert (
        "matches 2 places in ws.py (ignoring trailing whitespace and line endings), at lines 1, 3" in message
    )


def test_crlf_file_stays_crlf_including_inserted_lines(repo) -> None:
    repo.write("win.txt", b"one\r\ntwo\r\nthree\r\n")
    repo.apply('{"path": "win.txt", "old": "two\\n", "new": "2\\nand a half\\n"}')
    assert repo.read("win.txt") == b"one\r\n2\r\nand a half\r\nthree\r\n"


def test_crlf_file_with_a_diff_and_with_whole_content(repo) -> None:
    repo.write("win.txt", b"one\r\ntwo\r\n")
    repo.apply("--- a/win.txt\n+++ b/win.txt\n@@ -1,2 +1,3 @@\n one\n+1.5\n two\n")
    assert repo.read("win.txt") == b"one\r\n1.5\r\ntwo\r\n"
    repo.apply('{"path": "win.txt", "content": "a\\nb\\n"}')
    assert repo.read("win.txt") == b"a\r\nb\r\n"


def test_mixed_endings_untouched_lines_keep_theirs(repo) -> None:
    repo.write("mixed.txt", b"a\r\nb\nc\r\nd\r\n")
    repo.apply('{"path": "mixed.txt", "old": "c", "new": "C"}')
    assert repo.read("mixed.txt") == b"a\r\nb\nC\r\nd\r\n"


def test_file_without_final_newline_keeps_none(repo) -> None:
    repo.write("nofinal.txt", b"first\nlast")
    repo.apply('{"path": "nofinal.txt", "old": "last\\n", "new": "LAST\\nmore\\n"}')
    assert repo.read("nofinal.txt") == b"first\nLAST\nmore"
    repo.apply("nofinal.txt\n<<<<<<< SEARCH\n=======\nappended\n>>>>>>> REPLACE\n")
    assert repo.read("nofinal.txt") == b"first\nLAST\nmore\nappended"
    repo.apply("--- a/nofinal.txt\n+++ b/nofinal.txt\n@@ -3,2 +3,2 @@\n more\n-appended\n+end\n")
    assert repo.read("nofinal.txt") == b"first\nLAST\nmore\nend"


def test_diff_no_newline_marker_can_add_the_final_newline(repo) -> None:
    repo.write("nofinal.txt", b"a\nb")
    repo.apply("--- a/nofinal.txt\n+++ b/nofinal.txt\n@@ -2 +2 @@\n-b\n\\ No newline at end of file\n+b\n")
    assert repo.read("nofinal.txt") == b"a\nb\n"


def test_file_with_final_newline_keeps_it_when_content_lacks_one(repo) -> None:
    repo.apply('{"path": "README.md", "content": "# renamed"}')
    assert repo.read("README.md") == b"# renamed\n"


def test_utf8_bom_is_preserved(repo) -> None:
    repo.write("bom.txt", "\ufeffhéllo\nworld\n".encode())
    repo.apply('{"path": "bom.txt", "old": "world", "new": "wörld"}')
    assert repo.read("bom.txt") == "\ufeffhéllo\nwörld\n".encode()


def test_executable_bit_is_kept(repo) -> None:
    repo.write("run.sh", "#!/bin/sh\necho a\n", mode=0o755)
    repo.apply('{"path": "run.sh", "old": "echo a", "new": "echo b"}')
    assert stat.S_IMODE(os.stat(repo.root / "run.sh").st_mode) == 0o755
    assert repo.git("diff", "--summary") == ""  # no mode change


def test_edit_through_a_symlink_inside_the_root_edits_the_target(repo) -> None:
    os.symlink("src/app.py", repo.root / "link.py")
    applied = repo.apply('{"path": "link.py", "old": "hello", "new": "bye"}')
    assert (repo.root / "link.py").is_symlink()
    assert b"bye" in repo.read(APP)
    assert applied.changes[0].path == "src/app.py"


def test_apply_refuses_a_plan_whose_file_changed_since(repo) -> None:
    planned = plan(repo.root, EditSet((Replace("README.md", "project", "thing"),), "json"))
    assert isinstance(planned, Plan)
    repo.write("README.md", "# project\nuser typing...\n")
    result = apply(planned)
    assert isinstance(result, ApplyFailure)
    assert "README.md changed since the plan was made" in result.message
    assert repo.read("README.md") == b"# project\nuser typing...\n"


def test_a_write_failure_half_way_puts_back_what_was_written(repo, monkeypatch) -> None:
    # Fault injection: the disk fills up when the second file is written (the tests may run
    # as root, for whom permission bits cannot make a write fail).
    # (muxc.edits.apply is the function; the module has to be looked up by name.)
    module = importlib.import_module("muxc.edits.apply")
    real_write = module.atomic_write

    def disk_full_for_new_files(path, content, mode):
        if path.name == "new.txt":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(path, content, mode)

    monkeypatch.setattr(module, "atomic_write", disk_full_for_new_files)
    before, dirs = repo.tree(), repo.dirs()
    edits = EditSet((Replace("README.md", "project", "thing"), Write("deep/er/new.txt", "x")), "json")
    planned = plan(repo.root, edits)
    assert isinstance(planned, Plan)
    result = apply(planned)
    assert isinstance(result, ApplyFailure)
    assert result.message == (
        "writing deep/er/new.txt failed (No space left on device); the files written before it were put back"
    )
    assert repo.tree() == before and repo.dirs() == dirs


def test_a_no_op_edit_writes_nothing(repo) -> None:
    mtime = os.stat(repo.root / "README.md").st_mtime_ns
    applied = repo.apply('{"path": "README.md", "old": "project", "new": "project"}')
    assert applied.summary == "no files changed" and applied.diff == ""
    assert os.stat(repo.root / "README.md").st_mtime_ns == mtime


def test_diff_of_only_added_lines_for_a_missing_file_creates_it(repo) -> None:
    repo.apply("--- a/fresh.txt\n+++ b/fresh.txt\n@@ -0,0 +1,2 @@\n+one\n+two\n")
    assert repo.read("fresh.txt") == b"one\ntwo\n"


def test_replacing_in_a_missing_file_says_how_to_create_one(repo) -> None:
    message = repo.refuse('{"path": "ghost.py", "old": "a", "new": "b"}')
    assert (
        "ghost.py does not exist (to create a file, give its whole content or diff it from /dev/null)"
        in message
    )


def test_prose_wrapped_fenced_json_with_raw_newlines_applies(repo) -> None:
    output = (
        "The greeting is wrong. Here is the fix:\n\n```json\n"
        '{"summary": "fix greeting", "edits": [{"file": "src/app.py",\n'
        ' "old": "def main():\n    print(\'hello\')\n",\n'
        ' "new": "def main():\n    print(\'hello, world\')\n"}]}\n'
        "```\nLet me know if you need anything else."
    )
    repo.apply(output)
    assert repo.read(APP).startswith(b"def main():\n    print('hello, world')\n\n")
