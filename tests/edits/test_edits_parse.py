"""Parsing edits out of LLM output: every format, the tolerances, and the failure message."""

from __future__ import annotations

import pytest

from muxc.edits import Append, Delete, DiffHunks, EditSet, ParseFailure, Replace, Write, parse_edits


def parsed(output: str) -> EditSet:
    result = parse_edits(output)
    assert not isinstance(result, ParseFailure), result.message
    return result


def failure(output: str) -> ParseFailure:
    result = parse_edits(output)
    assert isinstance(result, ParseFailure), result
    return result


# --- JSON ---------------------------------------------------------------------------------


def test_json_replace_object() -> None:
    result = parsed('{"path": "a.py", "old": "x = 1\\n", "new": "x = 2\\n"}')
    assert result == EditSet((Replace("a.py", "x = 1\n", "x = 2\n"),), "json")


def test_json_whole_file_content() -> None:
    assert parsed('{"path": "a.py", "content": "print(1)\\n"}').edits == (Write("a.py", "print(1)\n"),)


def test_json_file_is_an_alias_of_path() -> None:
    assert parsed('{"file": "a.py", "content": ""}').edits == (Write("a.py", ""),)


def test_json_edits_object_keeps_summary_and_ignores_other_keys() -> None:
    output = '{"summary": "rename", "confidence": 0.9, "edits": [{"path": "a", "old": "x", "new": "y"}]}'
    result = parsed(output)
    assert result.edits == (Replace("a", "x", "y"),)
    assert result.summary == "rename"


def test_json_message_counts_as_summary() -> None:
    assert parsed('{"message": "m", "edits": [{"path": "a", "content": "c"}]}').summary == "m"


def test_json_bare_array() -> None:
    output = '[{"path": "a", "content": "1"}, {"file": "b", "old": "", "new": "2"}]'
    assert parsed(output).edits == (Write("a", "1"), Replace("b", "", "2"))


def test_json_fenced_with_prose_and_raw_newlines_in_strings() -> None:
    output = (
        "Sure! Here is the fix:\n\n```json\n"
        '{"path": "src/app.py", "old": "def main():\n    print(\'hello\')\n",\n'
        ' "new": "def main():\n\tprint(\'bye\')\n"}\n'
        "```\n\nThis changes the greeting."
    )
    assert parsed(output).edits == (
        Replace("src/app.py", "def main():\n    print('hello')\n", "def main():\n\tprint('bye')\n"),
    )


def test_json_unfenced_inside_prose() -> None:
    output = 'I will edit it. {"path": "a.txt", "content": "{not json} [x]\\n"} Done, braces {} and all.'
    assert parsed(output).edits == (Write("a.txt", "{not json} [x]\n"),)


def test_json_with_tilde_fence_and_trailing_comma_and_stray_backslash() -> None:
    output = '~~~\n{"path": "r.py", "content": "re.compile(\'\\d+\')",}\n~~~'
    assert parsed(output).edits == (Write("r.py", "re.compile('\\d+')"),)


def test_json_several_fenced_blocks_are_all_used_in_order() -> None:
    output = (
        'First:\n```json\n{"path": "a", "content": "1"}\n```\n'
        'Then:\n```\n{"path": "b", "content": "2"}\n```\n'
    )
    assert parsed(output).edits == (Write("a", "1"), Write("b", "2"))


def test_json_that_is_not_edit_shaped_is_ignored() -> None:
    output = 'Config example: {"name": "x"}.\n{"path": "a", "content": "1"}'
    assert parsed(output).edits == (Write("a", "1"),)


def test_json_edit_missing_new_is_reported() -> None:
    result = failure('{"path": "a.py", "old": "x"}')
    assert '"new" must be a string' in result.message


def test_json_edit_missing_path_is_reported() -> None:
    assert 'edit 2 has no "path"' in failure('[{"path": "a", "content": ""}, {"content": "x"}]').message


def test_broken_json_that_meant_edits_is_reported() -> None:
    result = failure('```json\n{"path": "a.py", "content": "x"\n```')
    assert "looks like edits" in result.message


# --- unified diff ---------------------------------------------------------------------------

GIT_DIFF = """\
Here is the patch.

```diff
diff --git a/src/app.py b/src/app.py
index 1234567..89abcde 100644
--- a/src/app.py
+++ b/src/app.py
@@ -1,2 +1,2 @@
 def main():
-    print('hello')
+    print('bye')
@@ -5,2 +5,3 @@
 if __name__ == '__main__':
     main()
+    main()
--- a/README.md
+++ b/README.md
@@ -1 +1,2 @@
 # project
+More.
```
"""


def test_diff_with_git_prefixes_several_files_and_hunks() -> None:
    result = parsed(GIT_DIFF)
    assert result.format == "unified diff"
    assert [edit.path for edit in result.edits] == ["src/app.py", "README.md"]
    app = result.edits[0]
    assert isinstance(app, DiffHunks)
    assert [hunk.old_start for hunk in app.hunks] == [1, 5]
    assert app.hunks[0].lines == (" def main():", "-    print('hello')", "+    print('bye')")


def test_diff_without_prefixes_and_with_timestamps() -> None:
    output = "--- src/app.py\t2024-01-01 10:00\n+++ src/app.py\t2024-01-02 10:00\n@@ -1 +1 @@\n-a\n+b\n"
    assert parsed(output).edits == (DiffHunks("src/app.py", parsed(output).edits[0].hunks),)
    assert parsed(output).edits[0].path == "src/app.py"


def test_diff_dev_null_creates_and_deletes() -> None:
    output = "--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+hi\n--- a/old.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n"
    created, deleted = parsed(output).edits
    assert isinstance(created, DiffHunks) and created.creates and created.path == "new.txt"
    assert deleted == Delete("old.txt")


def test_diff_blank_context_line_without_its_space_is_kept() -> None:
    output = "--- a/f\n+++ b/f\n@@ -1,4 +1,4 @@\n a\n\n-b\n+c\n d\n"
    (edit,) = parsed(output).edits
    assert edit.hunks[0].lines == (" a", " ", "-b", "+c", " d")


def test_diff_trailing_blank_lines_beyond_the_count_are_not_context() -> None:
    output = "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n-a\n+b\n c\n\n\nThat is all.\n"
    (edit,) = parsed(output).edits
    assert edit.hunks[0].lines == ("-a", "+b", " c")


def test_diff_no_newline_markers() -> None:
    output = "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+a\n"
    hunk = parsed(output).edits[0].hunks[0]
    assert (hunk.old_no_eol, hunk.new_no_eol) == (True, False)


def test_diff_removed_line_that_looks_like_a_header() -> None:
    output = "--- a/f.md\n+++ b/f.md\n@@ -1,2 +1,2 @@\n--- title\n+++ title\n x\n"
    hunk = parsed(output).edits[0].hunks[0]
    assert hunk.lines == ("--- title", "+++ title", " x")


def test_diff_header_without_hunks_is_reported() -> None:
    assert 'no "@@" hunk' in failure("--- a/f\n+++ b/f\nnothing here\n").message


# --- SEARCH/REPLACE ---------------------------------------------------------------------------

BLOCKS = """\
I'll make two changes.

src/app.py
```python
<<<<<<< SEARCH
    print('hello')
=======
    print('bye')
>>>>>>> REPLACE
<<<<<<< SEARCH
    main()
=======
    main()
    main()
>>>>>>> REPLACE
```

**`docs/new.md`**
```markdown
<<<<<<< SEARCH
=======
# New
>>>>>>> REPLACE
```
"""


def test_search_replace_blocks() -> None:
    result = parsed(BLOCKS)
    assert result.format == "SEARCH/REPLACE"
    assert result.edits == (
        Replace("src/app.py", "    print('hello')\n", "    print('bye')\n"),
        Replace("src/app.py", "    main()\n", "    main()\n    main()\n"),
        Append("docs/new.md", "# New\n"),
    )


@pytest.mark.parametrize(
    "path_line", ["a/b.py", "`a/b.py`", "a/b.py:", "### a/b.py", "Change `a/b.py` as follows:"]
)
def test_search_replace_path_line_decorations(path_line: str) -> None:
    output = f"{path_line}\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n"
    assert parsed(output).edits == (Replace("a/b.py", "x\n", "y\n"),)


def test_search_replace_without_divider_is_reported() -> None:
    message = failure("a.py\n<<<<<<< SEARCH\nx\n>>>>>>> REPLACE\n").message
    assert 'no "=======" line' in message


def test_search_replace_without_path_is_reported() -> None:
    assert "no file path" in failure("<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n").message


# --- choosing between formats ----------------------------------------------------------------


def test_a_diff_inside_a_json_string_is_not_applied_as_a_diff() -> None:
    output = '{"path": "p.patch", "content": "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n"}'
    assert parsed(output).edits == (Write("p.patch", "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n"),)


def test_json_inside_a_diff_is_diff_content() -> None:
    output = '--- a/c.json\n+++ b/c.json\n@@ -1 +1 @@\n-{}\n+{"path": "x", "content": "y"}\n'
    assert parsed(output).format == "unified diff"


def test_crlf_output_parses_like_lf_output() -> None:
    assert parsed(BLOCKS.replace("\n", "\r\n")) == parsed(BLOCKS)


# --- failure ----------------------------------------------------------------------------------


def test_failure_names_every_format_and_shows_the_start_of_the_output() -> None:
    output = "I could not find the bug, sorry. " * 20
    result = failure(output)
    assert result.tried == ("json", "unified diff", "SEARCH/REPLACE")
    assert result.message.startswith("no edits found in the output.")
    for expected in ('"path"', '"+++ b/<path>"', "<<<<<<< SEARCH"):
        assert expected in result.message
    assert result.excerpt == output[:300] + "…"
    assert "The output starts with:\n    I could not find the bug" in result.message


def test_failure_on_empty_output() -> None:
    assert "The output is empty." in failure("  \n").message


def test_json_after_code_full_of_braces_and_quotes_is_found() -> None:
    code = 'function f(x) { return {"a": x, "b": [1, 2]} || "{" + x; }\n' * 50
    assert parsed(code + '{"path": "a", "content": "x"}').edits == (Write("a", "x"),)


def test_json_cut_off_mid_edit_is_reported() -> None:
    message = failure('Here:\n```json\n{"path": "a.py", "content": "def f():\n    return 1\n').message
    assert (
        "line 3: found JSON that looks like edits, but it never closes (was the output cut off?)" in message
    )


def test_json_with_a_path_but_nothing_to_do_is_not_an_edit() -> None:
    output = 'The endpoint is {"path": "/api/items", "method": "GET"}.\n{"path": "a", "content": "x"}'
    assert parsed(output).edits == (Write("a", "x"),)


def test_bare_diff_followed_by_prose_with_bullets() -> None:
    output = "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n-a\n+b\n c\nThis change:\n- fixes the bug\n- adds a test\n"
    assert parsed(output).edits[0].hunks[0].lines == ("-a", "+b", " c")


def test_diff_context_line_that_lost_its_leading_space() -> None:
    output = "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\ndef f():\n-    return 1\n+    return 2\n"
    assert parsed(output).edits[0].hunks[0].lines == (" def f():", "-    return 1", "+    return 2")


def test_diff_undercounted_header_still_reads_every_prefixed_line() -> None:
    output = "--- a/f\n+++ b/f\n@@ -1 +1 @@\n a\n-b\n+c\n"
    assert parsed(output).edits[0].hunks[0].lines == (" a", "-b", "+c")
