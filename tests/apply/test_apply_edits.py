"""Apply steps end to end: every edit format an LLM may answer in, line endings, and the paths an
edit may never touch."""

from __future__ import annotations

import json
import os

from tests.support.llm_server import Reply

APPLY = """
    workflow x "apply what the coder says"

    query fix @coder:
        Edit the project.

    apply apply from fix [verify_retries = 0]
    """

GREETING = "def greet(name):\n    return 'hi ' + name\n\n\nprint(greet('you'))\n"
FIXED = GREETING.replace("'hi '", "'hello, '")
NEW_DOC = "# New\nmade by the edits\n"


def diff_answer(d: str) -> str:
    return f"""I changed the greeting:

```diff
--- a/{d}/greet.py
+++ b/{d}/greet.py
@@ -1,2 +1,2 @@
 def greet(name):
-    return 'hi ' + name
+    return 'hello, ' + name
--- /dev/null
+++ b/{d}/docs/new.md
@@ -0,0 +1,2 @@
+# New
+made by the edits
```
"""


def blocks_answer(d: str) -> str:
    return f"""{d}/greet.py
```python
<<<<<<< SEARCH
    return 'hi ' + name
=======
    return 'hello, ' + name
>>>>>>> REPLACE
```
"""


# Each format an LLM may answer in, as a function of the directory its case edits in:
# (the answer, the file and the bytes it must hold afterwards, whether it also creates docs/new.md)
FORMATS = {
    "json-old-new": lambda d: json.dumps({"path": f"{d}/greet.py", "old": "    return 'hi ' + name\n",
                                          "new": "    return 'hello, ' + name\n"}),
    "json-list-in-prose": lambda d: "Here you go:\n```json\n" + json.dumps([
        {"path": f"{d}/greet.py", "old": "'hi '", "new": "'hello, '"}]) + "\n```\nThat should do it.",
    "edits-object": lambda d: json.dumps({"edits": [{"path": f"{d}/greet.py", "old": "'hi '", "new": "'hello, '"},
                                                    {"path": f"{d}/docs/new.md", "content": NEW_DOC}]}),
    "lok-file-alias": lambda d: json.dumps({"file": f"{d}/greet.py", "old": "'hi '", "new": "'hello, '"}),
    "unified-diff-dev-null": diff_answer,
    "search-replace": blocks_answer,
    "json-content": lambda d: json.dumps({"path": f"{d}/greet.py", "content": FIXED}),
}


def test_each_edit_format_applies_and_crlf_files_keep_crlf(proj):
    """One build with one query and apply per case (a build per case would be slow)."""
    cases = {name: (make(f"cases/{name}"), f"cases/{name}/greet.py", GREETING.encode(), FIXED.encode())
             for name, make in FORMATS.items()}
    cases["crlf-json"] = (json.dumps({"path": "cases/crlf-json/win.txt", "old": "two\nthree\n",
                                      "new": "2\n3\nfour\n"}),
                          "cases/crlf-json/win.txt", b"one\r\ntwo\r\nthree\r\n", b"one\r\n2\r\n3\r\nfour\r\n")
    cases["crlf-diff"] = ("--- a/cases/crlf-diff/win.txt\n+++ b/cases/crlf-diff/win.txt\n"
                          "@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n",
                          "cases/crlf-diff/win.txt", b"one\r\ntwo\r\nthree\r\n", b"one\r\nTWO\r\nthree\r\n")
    steps = ['workflow x "every edit format"']
    for number, (name, (_, path, before, _)) in enumerate(cases.items()):
        proj.write(path, before)
        steps.append(f"query q{number} @coder: Edit case {name}.\n\napply a{number} from q{number} [verify_retries = 0]")
    proj.workflow("\n\n".join(steps) + "\n")
    proj.commit()
    answers = {f"Edit case {name}.": answer for name, (answer, *_) in cases.items()}
    proj.server.responder = lambda request: Reply(text=answers[request.prompt])
    doc = proj.build_json(code=None)
    failed = {name: step["error"] for name, step in zip(cases, doc["steps"][1::2], strict=True)
              if step["status"] != "ran"}
    assert failed == {}
    for name, (_, path, _, after) in cases.items():
        assert proj.bytes(path) == after, name
    for name in ("edits-object", "unified-diff-dev-null"):
        assert proj.read(f"cases/{name}/docs/new.md") == NEW_DOC


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
        ".git/config": "files under .git/ are never written",
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
