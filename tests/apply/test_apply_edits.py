"""Apply steps end to end: every edit format an LLM may answer in, line endings, and the paths an
edit may never touch."""

from __future__ import annotations

import json
import os

import pytest

from tests.support.llm_server import Reply

APPLY = """
    workflow x "apply what the coder says"

    query fix @coder:
        Edit the project.

    apply apply from fix [verify_retries = 0]
    """

GREETING = "def greet(name):\n    return 'hi ' + name\n\n\nprint(greet('you'))\n"
FIXED = GREETING.replace("'hi '", "'hello, '")

DIFF = """I changed the greeting:

```diff
--- a/greet.py
+++ b/greet.py
@@ -1,2 +1,2 @@
 def greet(name):
-    return 'hi ' + name
+    return 'hello, ' + name
--- /dev/null
+++ b/docs/new.md
@@ -0,0 +1,2 @@
+# New
+made by a diff
```
"""

BLOCKS = """greet.py
```python
<<<<<<< SEARCH
    return 'hi ' + name
=======
    return 'hello, ' + name
>>>>>>> REPLACE
```
"""

FORMATS = {
    "json old/new": json.dumps({"path": "greet.py", "old": "    return 'hi ' + name\n",
                                "new": "    return 'hello, ' + name\n"}),
    "json list in prose": "Here you go:\n```json\n" + json.dumps([
        {"path": "greet.py", "old": "'hi '", "new": "'hello, '"}]) + "\n```\nThat should do it.",
    "edits object": json.dumps({"edits": [{"path": "greet.py", "old": "'hi '", "new": "'hello, '"},
                                          {"path": "docs/new.md", "content": "# New\nmade by a diff\n"}]}),
    "lok file alias": json.dumps({"file": "greet.py", "old": "'hi '", "new": "'hello, '"}),
    "unified diff with /dev/null": DIFF,
    "search/replace": BLOCKS,
}


def project_with_greeting(proj) -> None:
    proj.write("greet.py", GREETING)
    proj.workflow(APPLY)
    proj.commit()


@pytest.mark.parametrize("name", list(FORMATS))
def test_each_edit_format_applies(proj, name):
    project_with_greeting(proj)
    proj.server.script(Reply(text=FORMATS[name]))
    done = proj.build()
    assert proj.read("greet.py") == FIXED
    assert "-    return 'hi ' + name\n+    return 'hello, ' + name" in done.stdout
    if "docs/new.md" in FORMATS[name]:
        assert proj.read("docs/new.md") == "# New\nmade by a diff\n"
        assert "+++ b/docs/new.md" in done.stdout


def test_json_content_writes_a_whole_file(proj):
    project_with_greeting(proj)
    proj.server.script(Reply(text=json.dumps({"path": "greet.py", "content": "print('replaced')\n"})))
    proj.build()
    assert proj.read("greet.py") == "print('replaced')\n"


def test_crlf_files_keep_crlf(proj):
    proj.write("win.txt", b"one\r\ntwo\r\nthree\r\n")
    proj.workflow(APPLY)
    proj.commit()
    proj.server.script(Reply(text=json.dumps({"path": "win.txt", "old": "two\nthree\n", "new": "2\n3\nfour\n"})))
    proj.build()
    assert proj.bytes("win.txt") == b"one\r\n2\r\n3\r\nfour\r\n"


def test_crlf_files_keep_crlf_through_a_diff(proj):
    proj.write("win.txt", b"one\r\ntwo\r\nthree\r\n")
    proj.workflow(APPLY)
    proj.commit()
    proj.server.script(Reply(text="--- a/win.txt\n+++ b/win.txt\n@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n"))
    proj.build()
    assert proj.bytes("win.txt") == b"one\r\nTWO\r\nthree\r\n"


def test_an_ambiguous_old_is_refused_with_its_line_numbers_and_nothing_is_written(proj):
    proj.write("dup.py", "x = 1\ny = 2\nx = 1\n")
    proj.workflow(APPLY)
    proj.commit()
    proj.server.script(Reply(text=json.dumps({"edits": [
        {"path": "new.py", "content": "fine\n"},
        {"path": "dup.py", "old": "x = 1", "new": "x = 3"},
    ]})))
    done = proj.build(code=1)
    assert "old text matches 2 places in dup.py, at lines 1, 3" in done.stderr
    assert proj.read("dup.py") == "x = 1\ny = 2\nx = 1\n"
    assert not (proj.root / "new.py").exists()  # all or nothing
    assert proj.status() == ""


def test_edits_escaping_the_root_are_refused_and_nothing_is_written(proj, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, proj.root / "link")
    proj.workflow(APPLY)
    proj.commit()
    git_config = proj.bytes(".git/config")
    escapes = {
        "../outside.txt": 'paths may not contain ".." components',
        "sub/../../outside.txt": 'paths may not contain ".." components',
        str(tmp_path / "outside.txt"): "absolute paths are not allowed",
        "link/evil.txt": "a symlink in it leads outside the project root",
        ".git/config": "files under .git/ are never edited",
    }
    edits = [{"path": "innocent.txt", "content": "written only if every edit is allowed\n"}]
    edits += [{"path": path, "content": "[core]\n\tfsmonitor = touch /tmp/pwned\n"} for path in escapes]
    proj.server.script(Reply(text=json.dumps({"edits": edits})))
    done = proj.build(code=1)
    for path, rule in escapes.items():
        assert f"{path!r} is refused: {rule}" in done.stderr
    assert not (tmp_path / "outside.txt").exists() and list(outside.iterdir()) == []
    assert proj.bytes(".git/config") == git_config
    assert not (proj.root / "innocent.txt").exists()
    assert proj.status() == ""
