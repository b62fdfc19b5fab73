"""The shared cache on a ``file://`` remote: two clones of one project, one pays, the other does not.

Real git clones, a real loopback LLM server, real shell commands; the remote is a directory
given as a ``file://`` URL, exactly as a team would share a network drive.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from muxc.store.remote.entries import decode, decode_index
from tests.distributed.conftest import Clones, make_clones
from tests.run.conftest import Project
from tests.support.built import Built
from tests.support.llm_server import LLMServer

WORKFLOW = """\
    workflow w "two queries and a shell step"

    shell facts:
        echo facts; echo facts >> "$COUNTER"

    query summary @analyzer:
        Summarise: {{ facts }}

    query title @synthesizer:
        A title for: {{ summary }}
    """


@pytest.fixture
def clones(tmp_path: Path, isolated_env: dict[str, str], llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch,
           ) -> Clones:
    monkeypatch.setenv("COUNTER", str(tmp_path / "counter"))
    return make_clones(tmp_path, llm_server, WORKFLOW)


def build_in(project: Project, monkeypatch: pytest.MonkeyPatch, *args: str, code: int = 0) -> Built:
    monkeypatch.chdir(project.root)
    return project.build(*args, code=code)


def entries(remote: Path) -> list[Path]:
    return sorted(path for path in (remote / "v1" / "results").rglob("*") if path.is_file())


def test_a_second_clone_builds_from_the_remote_without_a_single_llm_call(clones: Clones,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    first = build_in(clones.a, monkeypatch, "--remote", clones.url)
    assert first.ran == {"facts", "summary", "title"} and clones.a.calls == 2
    assert len(entries(clones.remote)) == 3  # each result uploaded as its step finished
    clones.a.ran()

    second = build_in(clones.b, monkeypatch, "--remote", clones.url)
    assert second.cached == {"facts", "summary", "title"}
    assert clones.b.calls == 2 and clones.b.ran() == []  # no new call, no command ran again
    assert {step["where"] for step in second.doc["steps"]} == {"remote cache"}
    assert second.output == first.output

    again = build_in(clones.b, monkeypatch)  # now in b's own cache: no remote needed
    assert again.cached == {"facts", "summary", "title"}
    assert {step["where"] for step in again.doc["steps"]} == {"cache"}


def test_replay_serves_from_the_remote_too(clones: Clones, monkeypatch: pytest.MonkeyPatch) -> None:
    build_in(clones.a, monkeypatch, "--remote", clones.url)
    refused = build_in(clones.b, monkeypatch, "--replay", code=1)  # b's own cache is empty
    assert "not in the cache and --replay forbids running it" in refused.error("facts")
    replayed = build_in(clones.b, monkeypatch, "--replay", "--remote", clones.url, "--no-push")
    assert replayed.cached == {"facts", "summary", "title"} and clones.b.calls == 2


def test_status_says_cached_remote_and_writes_nothing(clones: Clones, monkeypatch: pytest.MonkeyPatch) -> None:
    build_in(clones.a, monkeypatch, "--remote", clones.url)
    monkeypatch.chdir(clones.b.root)
    shown = clones.b.cli("status", "w", "--remote", clones.url)
    assert shown.exit_code == 0, shown.stderr
    assert shown.stdout.splitlines() == ["facts: cached (remote)", "summary: cached (remote)", "title: cached (remote)"]
    shown = clones.b.cli("status", "w")  # status copied nothing into b's cache
    assert "summary: would run" in shown.stdout


def test_no_push_reads_the_remote_and_never_writes_it(clones: Clones, monkeypatch: pytest.MonkeyPatch) -> None:
    build_in(clones.a, monkeypatch, "--remote", clones.url, "--no-push")
    assert entries(clones.remote) == []


def test_config_names_the_remote_and_push_false_keeps_it_read_only(clones: Clones,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    clones.a.config(f'[cache]\nremote = "{clones.url}"\npush = false\n')
    build_in(clones.a, monkeypatch)
    assert entries(clones.remote) == []
    clones.a.config(f'[cache]\nremote = "{clones.url}"\n')
    build_in(clones.a, monkeypatch)  # cached locally: nothing computed, so nothing uploaded
    assert entries(clones.remote) == []
    build_in(clones.a, monkeypatch, "--force")
    assert len(entries(clones.remote)) == 3


@pytest.mark.parametrize("damage", ["corrupt", "truncated"])
def test_a_damaged_entry_is_never_served_and_the_fresh_result_replaces_it(
        clones: Clones, monkeypatch: pytest.MonkeyPatch, damage: str) -> None:
    build_in(clones.a, monkeypatch, "--remote", clones.url)
    victim = next(path for path in entries(clones.remote) if b'"step":"title"' in path.read_bytes())
    data = victim.read_bytes()
    victim.write_bytes(data.replace(b"answer to", b"answer tO") if damage == "corrupt" else data[: len(data) // 2])

    second = build_in(clones.b, monkeypatch, "--remote", clones.url)
    assert second.ran == {"title"} and second.cached == {"facts", "summary"}
    assert clones.b.calls == 3  # only the damaged one was asked again
    warning = "corrupt" if damage == "corrupt" else "truncated"
    said = [line for line in second.stderr.splitlines() if "remote cache's entry" in line]
    assert len(said) == 1 and warning in said[0] and "ignored" in said[0]
    assert decode(victim.name, victim.read_bytes()).record.step == "title"  # the fresh result replaced it


def test_the_index_lets_a_clone_decide_without_rendering_and_is_only_a_hint(
        clones: Clones, monkeypatch: pytest.MonkeyPatch) -> None:
    build_in(clones.a, monkeypatch, "--remote", clones.url)
    index = next((clones.remote / "v1" / "index").iterdir())
    memo = decode_index(index.read_bytes())
    assert len(memo) == 3  # each step's pre-key -> key
    index.write_bytes(index.read_bytes()[:-5])  # damaged: a warning, and the steps are found the slow way
    second = build_in(clones.b, monkeypatch, "--remote", clones.url)
    assert second.cached == {"facts", "summary", "title"} and clones.b.calls == 2
    assert "index" in second.stderr and "truncated" in second.stderr
    assert decode_index(index.read_bytes()) == memo  # b's build wrote it whole again


def test_an_unusable_remote_costs_one_warning_and_the_build_goes_on_locally(
        clones: Clones, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    built = build_in(clones.a, monkeypatch, "--remote", (blocker / "cache").as_uri())
    assert built.ran == {"facts", "summary", "title"}
    said = [line for line in built.stderr.splitlines() if "cannot be used" in line]
    assert len(said) == 1 and "local cache only" in said[0], built.stderr


def test_status_with_an_unusable_remote_says_so_once(clones: Clones, monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.chdir(clones.a.root)
    shown = clones.a.cli("status", "w", "--remote", (blocker / "cache").as_uri())
    assert shown.exit_code == 0 and "summary: would run" in shown.stdout
    assert shown.stderr.count("cannot be used") == 1, shown.stderr


@pytest.mark.parametrize(("url", "said"), [("s3://AKIAEXAMPLE:hunter2@bucket/muxc", "holds a password"),
                                          ("az://container/muxc?sig=hunter2", "holds a query string")])
def test_a_secret_in_the_remote_url_is_refused_before_anything_is_sent(
        clones: Clones, monkeypatch: pytest.MonkeyPatch, url: str, said: str) -> None:
    monkeypatch.chdir(clones.a.root)
    result = clones.a.cli("build", "w", "--remote", url)
    assert result.exit_code == 2
    assert said in result.stderr and "hunter2" not in result.stderr
    assert clones.a.calls == 0


def test_push_and_pull_move_entries_explicitly(clones: Clones, monkeypatch: pytest.MonkeyPatch) -> None:
    build_in(clones.a, monkeypatch)  # no remote yet
    pushed = clones.a.cli("push", "--remote", clones.url, "--output", "json")
    assert pushed.exit_code == 0, pushed.stderr
    assert json.loads(pushed.stdout) | {"remote": None} == {"remote": None, "pushed": 3, "present": 0, "skipped": 0,
                                                             "remote_ok": True}
    assert json.loads(clones.a.cli("push", "--remote", clones.url, "--output", "json").stdout)["pushed"] == 0

    monkeypatch.chdir(clones.b.root)
    pulled = clones.b.cli("pull", "--remote", clones.url, "--output", "json")
    assert json.loads(pulled.stdout)["pulled"] == 3, pulled.stderr
    built = build_in(clones.b, monkeypatch)  # no remote: everything is local now
    assert built.cached == {"facts", "summary", "title"} and clones.b.calls == 2


def test_pull_workflow_takes_what_a_build_would_use(clones: Clones, monkeypatch: pytest.MonkeyPatch) -> None:
    build_in(clones.a, monkeypatch, "--remote", clones.url)
    monkeypatch.chdir(clones.b.root)
    pulled = clones.b.cli("pull", "w", "--remote", clones.url)
    assert pulled.exit_code == 0, pulled.stderr
    assert "pulled 3 results" in pulled.stdout
    built = build_in(clones.b, monkeypatch)
    assert built.cached == {"facts", "summary", "title"} and clones.b.calls == 2


def test_push_without_a_remote_is_a_usage_error(clones: Clones, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(clones.a.root)
    result = clones.a.cli("push")
    assert result.exit_code == 2 and "--remote URL" in result.stderr


def test_a_build_without_remote_or_cluster_imports_neither(clones: Clones) -> None:
    """The base install stays light: fsspec and Dask load only when a build asks for them."""
    script = ("import sys\nfrom click.testing import CliRunner\nfrom muxc.cli import main\n"
              "result = CliRunner().invoke(main, ['build', 'w', '--output', 'quiet'])\n"
              "assert result.exit_code == 0, result.output\n"
              "print(sorted({name.split('.')[0] for name in sys.modules} & {'fsspec', 'distributed', 'dask', 's3fs'}))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=clones.a.root, env=clones.a.env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_without_fsspec_a_configured_remote_costs_one_warning_naming_the_extra(clones: Clones,
                                                                                tmp_path: Path) -> None:
    shadow = tmp_path / "no-fsspec"
    shadow.mkdir()
    (shadow / "fsspec.py").write_text("raise ImportError('No module named fsspec')\n")
    clones.a.config(f'[cache]\nremote = "{clones.url}"\n')
    done = subprocess.run([sys.executable, "-m", "muxc", "build", "w"], cwd=clones.a.root,
                          env={**clones.a.env, "PYTHONPATH": str(shadow)}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("pip install 'muxc[distributed]'") == 1 and "local cache only" in done.stderr
