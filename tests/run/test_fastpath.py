"""The no-op fast path (issue 13): a build, ``--replay`` or ``status`` with nothing changed is
answered from the last build's manifest, prints exactly what the full path prints, never loads
the engine, and says "changed" whenever the full path would run something.

Every test in ``tests/run`` goes through it too (it is on by default); these add the cases where
it must step aside. ``fast`` records, for each ``muxc build``, whether the fast path answered.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import msgspec
import pytest

WORKFLOW = """
    workflow w "the fast path"

    arg mode = "a" "a mode"

    shell probe > "out/probe.txt" [inputs = ["src/*.txt"]]:
        echo probe >> "$COUNTER"
        cat src/*.txt

    shell whole:
        echo whole >> "$COUNTER"
        ls

    query ask @analyzer > "out/ask.md":
        Review {{ probe }} in {{ mode }} with {{ env.FAST_VAR | default("unset") }}

    query each @analyzer [for_each = "[\\"x\\", \\"y\\"]"]:
        Item {{ item }}

    query never @analyzer > "out/never.md" [if = "args.mode == 'z'"]:
        never asked

    shell last:
        echo "{{ ask }} {{ each }} {{ whole }}"
    """


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether the fast path answered, one entry per build (a spy: the real function runs)."""
    from muxc.app import fastpath

    answered: list[bool] = []
    original = fastpath.noop_build

    def spy(*args: object, **kwargs: object) -> object:
        found = original(*args, **kwargs)
        answered.append(found is not None)
        return found

    monkeypatch.setattr(fastpath, "noop_build", spy)
    return answered


@pytest.fixture
def w(project):
    project.write("src/a.txt", "alpha\n")
    project.workflow(WORKFLOW)
    project.commit()
    project.build()
    project.ran()
    return project


def _normal(text: str) -> str:
    """Output without the clock's figures."""
    return re.sub(r" in \d+\.\ds", " in N", text)


def _doc(text: str) -> dict:
    doc = json.loads(text)
    doc["totals"].pop("seconds")
    for step in doc["steps"]:
        step.pop("duration_ms")
    return doc


def _full(project, monkeypatch, *args: str):
    monkeypatch.setenv("MUXC_FAST_PATH", "0")
    try:
        return project.cli(*args)
    finally:
        monkeypatch.delenv("MUXC_FAST_PATH")


def test_a_noop_build_prints_exactly_what_the_full_path_prints(w, fast, monkeypatch):
    calls = w.calls
    for jobs in ("1", "4"):  # -j 1: the full path's lines come in a fixed order
        full = _full(w, monkeypatch, "build", "w", "-j", jobs)
        quick = w.cli("build", "w", "-j", jobs)
        assert fast[-1] is True and w.ran() == [] and w.calls == calls
        assert (quick.exit_code, quick.stdout) == (full.exit_code, full.stdout)
        lines = _normal(quick.stderr).splitlines(), _normal(full.stderr).splitlines()
        assert lines[0] == lines[1] if jobs == "1" else sorted(lines[0]) == sorted(lines[1])
    assert "answer to: Review alpha" in quick.stdout


def test_its_json_document_is_the_full_paths(w, fast, monkeypatch):
    full = _full(w, monkeypatch, "build", "w", "--output", "json")
    quick = w.cli("build", "w", "--output", "json")
    assert fast[-1] is True
    assert _doc(quick.stdout) == _doc(full.stdout)
    assert {step["status"] for step in _doc(quick.stdout)["steps"]} == {"cached", "skipped"}


def test_replay_and_status_go_through_it_too(w, fast, monkeypatch):
    full_replay = _full(w, monkeypatch, "build", "w", "--replay", "--output", "json")
    replay = w.cli("build", "w", "--replay", "--output", "json")
    assert fast[-1] is True and _doc(replay.stdout) == _doc(full_replay.stdout)
    for output in ("console", "json"):
        full = _full(w, monkeypatch, "status", "w", "--output", output)
        quick = w.cli("status", "w", "--output", output)
        assert (quick.exit_code, quick.stdout, quick.stderr) == (full.exit_code, full.stdout, full.stderr)
    assert "never: skipped" in quick.stdout or '"skipped' in quick.stdout


@pytest.mark.parametrize("command", [("build", "w"), ("build", "w", "--replay"), ("status", "w")])
def test_the_noop_never_imports_the_engine(w, command):
    """In a fresh process, as a user runs it: none of doit, Jinja, sqlite-utils, httpx is imported."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "muxc", *command], cwd=w.root, env=w.env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "muxc.app.fastpath" in imported
    heavy = {"doit", "jinja2", "sqlite_utils", "httpx", "lark"} | ({"click"} if command[0] == "build" else set())
    assert not imported & heavy, imported & heavy  # a plain no-op build is answered before click loads
    said = done.stdout if command[0] == "status" else done.stderr
    assert ("never: skipped" if command[0] == "status" else "w: 6 steps — 0 ran, 5 cached, 1 skipped") in said


# --- it must say "changed" -------------------------------------------------------------------


def test_an_edited_workflow(w, fast):
    w.workflow(WORKFLOW.replace("        ls", "        ls -a"))
    built = w.build()
    assert fast == [False] and built.ran == {"whole", "last"} and w.ran() == ["whole"]


def test_an_edited_config(w, fast):
    w.config(model="other")
    built = w.build()
    assert fast == [False] and {"ask", "each"} <= built.ran


def test_an_env_var_a_template_reads(w, fast, monkeypatch):
    monkeypatch.setenv("FAST_VAR", "set")
    built = w.build()
    assert fast == [False] and "ask" in built.ran


def test_an_env_var_the_config_references(w, fast, monkeypatch):
    monkeypatch.setenv("FAST_MODEL", "m")  # the same model, now from the environment
    w.write(".muxc/config.toml", w.read(".muxc/config.toml").replace('model = "m"', 'model = "${FAST_MODEL}"'))
    w.build()
    w.build()
    assert fast[-1] is True
    monkeypatch.setenv("FAST_MODEL", "n")
    built = w.build()
    assert fast[-1] is False and {"ask", "each"} <= built.ran


def test_an_input_rewritten_with_the_same_size_and_mtime(w, fast):
    path = w.root / "src/a.txt"
    before = path.stat()
    path.write_text("omega\n")  # same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    built = w.build()
    assert fast == [False] and "probe" in built.ran and "omega" in w.read("out/probe.txt")


def test_an_input_hashed_long_ago_rewritten_with_the_same_size_and_mtime(w, fast):
    """Out of the racy window (the stat cache says the file was hashed long after it was written),
    only the inode change time tells: the same rule as the full path's."""
    from muxc.run import fingerprint

    w.build()
    cache = w.root / ".muxc/state/stat-cache"
    entries = msgspec.msgpack.decode(cache.read_bytes())
    entries = {name: [*entry[:5], entry[5] + 10 * fingerprint.RACY_NS] for name, entry in entries.items()}
    cache.write_bytes(msgspec.msgpack.encode(entries))
    path = w.root / "src/a.txt"
    before = path.stat()
    path.write_text("omega\n")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    built = w.build()
    assert fast == [True, False] and "probe" in built.ran


def test_a_moved_git_head(w, fast):
    w.write("notes.md", "x\n")
    w.commit()
    w.build()
    w.ran()
    w.git("commit", "-q", "--allow-empty", "-m", "moved")
    built = w.build()
    assert fast == [False, False] and "whole" in built.ran and w.ran() == ["whole"]


def test_a_new_untracked_file_for_a_project_state_step(w, fast):
    w.write("new.txt", "new\n")
    built = w.build()
    assert fast == [False] and "whole" in built.ran


def test_a_deleted_saved_output_is_written_again(w, fast):
    (w.root / "out/ask.md").unlink()
    built = w.build()
    assert fast == [False] and "ask" in built.cached and w.read("out/ask.md").startswith("answer to: Review")


def test_a_hand_edited_saved_output_is_left_with_a_note(w, fast):
    w.write("out/ask.md", "mine\n")
    built = w.cli("build", "w")
    assert fast == [False] and "edited since muxc wrote it" in built.stderr and w.read("out/ask.md") == "mine\n"


def test_a_clock_that_went_backwards(w, fast):
    """The manifest was written 'in the future': stat times mean little, so the full path decides."""
    from muxc.store import manifest

    (path,) = (w.root / ".muxc/state/manifests").iterdir()
    found = manifest.load(path)
    manifest.save(path, msgspec.structs.replace(found, written_at=time.time() + 3600))
    built = w.build()
    assert fast == [False] and built.cached | built.steps("skipped") == set(built.status)
    w.build()
    assert fast == [False, True]


def test_a_half_written_manifest(w, fast):
    (path,) = (w.root / ".muxc/state/manifests").iterdir()
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    built = w.build()
    assert fast == [False] and "never" in built.steps("skipped")
    w.build()
    assert fast == [False, True]


def test_a_forgotten_step_runs_again(w, fast):
    assert w.cli("forget", "w", "whole").exit_code == 0
    built = w.build()
    assert fast == [False] and "whole" in built.ran


def test_a_failed_build_leaves_no_manifest(w, fast):
    w.workflow(WORKFLOW.replace("echo whole >>", "exit 3; echo whole >>"))
    w.build(code=1)
    w.build(code=1)
    assert fast == [False, False]
    assert not list((w.root / ".muxc/state/manifests").iterdir())


def test_another_args_value_has_its_own_manifest(w, fast):
    w.build("mode=b")
    w.build("mode=b")
    built = w.build()  # back to mode=a: the full path, as the workflow's latest builds moved
    assert fast == [False, True, False] and built.ran == set()  # both results are cached
    w.build()
    w.build("mode=b")
    assert fast[-2:] == [True, False]


def test_force_and_refresh_take_the_full_path(w, fast):
    assert "whole" in w.build("--refresh", "whole").ran
    assert w.build("--force").ran
    assert fast == [False, False]


@pytest.mark.parametrize("jobs", ["1", "4"])
def test_a_noop_after_a_noop_stays_fast(w, fast, jobs):
    for _ in range(3):
        w.build("-j", jobs)
    assert fast == [True, True, True] and w.ran() == []


def test_it_is_off_with_muxc_fast_path_0(w, fast, monkeypatch):
    monkeypatch.setenv("MUXC_FAST_PATH", "0")
    w.build()
    assert fast == [False]


def test_a_shell_step_reading_every_env_var_sees_any_change(project, fast, monkeypatch):
    project.workflow("""
        workflow w "computed env"

        arg var = "A_VAR" "which variable"

        shell read:
            echo read >> "$COUNTER"
            echo {{ env[args.var] | default("none") }}
        """)
    project.build()
    project.build()
    monkeypatch.setenv("UNRELATED_VAR", "1")  # a computed name may read any variable
    built = project.build()
    assert fast == [False, True, False] and built.cached == {"read"}  # the full path decided: same command


def test_a_manifest_of_another_format_is_ignored(tmp_path: Path) -> None:
    """A manifest from another muxc (another format) is ignored, never trusted."""
    from muxc.store import manifest

    path = tmp_path / "x.manifest"
    path.write_bytes(msgspec.msgpack.encode({"format": 999}))
    assert manifest.load(path) is None


# --- the command line read without click (muxc.cli.lane) -----------------------------------------


def _lane(argv: list[str], capsys: pytest.CaptureFixture[str], environ: dict[str, str] | None = None):
    from muxc.cli.lane import answer_noop_build

    capsys.readouterr()
    code = answer_noop_build(argv, os.environ if environ is None else environ)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv", [
    ["build", "w"],
    ["run", "w", "-j", "1"],
    ["--quiet", "build", "w", "-j1"],
    ["build", "w", "--output=json", "--jobs=3"],
    ["build", "w", "--output", "json", "-v"],
    ["build", "-v", "w", "mode=b", "--replay"],
    ["-C", "{root}", "build", "w", "--dir", "{root}", "mode=b"],
])
def test_a_plain_noop_line_is_answered_without_click_as_click_answers_it(w, fast, capsys, argv):
    argv = [word.replace("{root}", str(w.root)) for word in argv]
    w.build("mode=b")
    w.cli(*argv)  # a build of mode=a after mode=b's rewrote the saved files: the full path runs
    w.ran()
    through_click = w.cli(*argv)
    code, out, err = _lane(argv, capsys)
    assert fast[-2:] == [True, True] and code == through_click.exit_code == 0 and w.ran() == []
    if "json" in " ".join(argv):
        assert _doc(out) == _doc(through_click.stdout)
    else:
        assert out == through_click.stdout
    assert _normal(err) == _normal(through_click.stderr)


@pytest.mark.parametrize("argv", [
    ["build", "w", "--force"], ["build", "w", "-j", "0"], ["build", "w", "-j", "x"], ["build", "w", "-jx"],
    ["build", "w", "--", "mode=a"], ["build"], ["status", "w"], ["build", "w", "oops"], ["--debug", "build", "w"],
    ["build", "w", "-vj2"], ["build", "w", "--output", "yaml"], ["build", "w", "--team"], ["-C", "nowhere", "build", "w"],
    ["build", "w", "--dry-run"], ["--version"], ["build", "--help"], ["build", "w", "--quiet", "--output", "json"],
    ["--output=json", "build", "w", "--quiet"], ["-v", "build", "w"], ["-j", "2", "build", "w"],
    ["--replay", "build", "w"],
])
def test_any_other_line_is_left_to_click(w, capsys, argv):
    assert _lane(argv, capsys) == (None, "", "")


def test_a_muxc_variable_click_would_read_leaves_the_line_to_click(w, capsys):
    assert _lane(["build", "w"], capsys, {**os.environ, "MUXC_BUILD_FORCE": "1"}) == (None, "", "")
    assert _lane(["build", "w"], capsys, {**os.environ, "MUXC_FAST_PATH": "1"})[0] == 0


def test_a_change_leaves_the_build_to_click_and_prints_nothing(w, capsys):
    w.write("src/a.txt", "changed\n")
    assert _lane(["build", "w"], capsys) == (None, "", "")
    assert "probe" in w.build().ran
