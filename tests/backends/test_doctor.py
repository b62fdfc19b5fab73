"""``muxc doctor``: structured verdicts per backend, never an exception."""

from __future__ import annotations

import msgspec

from muxc.backends.doctor import check_all, check_backend
from muxc.config.schema import BackendConfig, Config
from tests.support.llm_server import Reply, free_port


def test_cli_found_and_missing(fake_cli, tmp_path) -> None:
    found = check_backend(BackendConfig(name="ok", command=fake_cli.wrapper("my-llm")), project_root=tmp_path)
    assert found.ok and found.status == "ok" and found.path == str(fake_cli.directory / "my-llm")
    missing = check_backend(BackendConfig(name="gone", command="no-such-llm-cli-here"), project_root=tmp_path)
    assert not missing.ok and missing.status == "missing" and missing.command == "no-such-llm-cli-here"
    assert "'no-such-llm-cli-here' not found on PATH" in missing.detail


def test_http_endpoint_up_down_and_rejecting_the_key(llm_server, tmp_path) -> None:
    up = check_backend(
        BackendConfig(name="up", base_url=llm_server.openai_url), project_root=tmp_path, environ={}
    )
    assert up.ok and up.status == "ok" and up.http_status == 200
    assert llm_server.requests[-1].path == "/v1/models"
    down = check_backend(
        BackendConfig(name="down", base_url=f"http://127.0.0.1:{free_port()}/v1"),
        project_root=tmp_path,
        environ={},
    )
    assert not down.ok and down.status == "unreachable" and "no answer from" in down.detail
    llm_server.models_reply = Reply.error(401, "bad key")
    rejected = check_backend(
        BackendConfig(name="auth", base_url=llm_server.openai_url, api_key="sk-doctor-secret"),
        project_root=tmp_path,
        environ={},
    )
    assert not rejected.ok and rejected.status == "auth"
    assert llm_server.requests[-1].api_key == "sk-doctor-secret"


def test_probe_sends_one_tiny_request_through_the_backend(llm_server, tmp_path) -> None:
    result = check_backend(
        BackendConfig(name="p", base_url=llm_server.openai_url, stream=True),
        project_root=tmp_path,
        environ={},
        probe=True,
    )
    assert result.probe is not None and result.probe.ok
    sent = llm_server.completions[-1]
    assert sent.body["max_tokens"] == 1 and not sent.stream
    llm_server.script(Reply.error(500, "model crashed"))
    failed = check_backend(
        BackendConfig(name="p", base_url=llm_server.openai_url), project_root=tmp_path, environ={}, probe=True
    )
    assert failed.ok and failed.probe is not None and not failed.probe.ok and failed.probe.kind == "server"
    assert llm_server.calls == 2  # no retries in a probe


def test_check_all_reports_every_backend_as_json_ready_structs(llm_server, tmp_path) -> None:
    config = Config(
        backends={
            "b-http": BackendConfig(name="b-http", base_url=llm_server.openai_url),
            "a-cli": BackendConfig(name="a-cli", command="no-such-llm-cli-here"),
            "c-off": BackendConfig(name="c-off", command="whatever", enabled=False),
            "d-bad": BackendConfig(name="d-bad", type="http"),
            "e-key": BackendConfig(name="e-key", type="claude-api", base_url=llm_server.url),
        }
    )
    results = check_all(config, project_root=tmp_path, environ={})
    assert [(r.backend, r.status, r.ok) for r in results] == [
        ("a-cli", "missing", False),
        ("b-http", "ok", True),
        ("c-off", "disabled", True),
        ("d-bad", "config", False),
        ("e-key", "config", False),
    ]
    assert "ANTHROPIC_API_KEY" in results[-1].detail
    assert msgspec.json.decode(msgspec.json.encode(results))[0]["backend"] == "a-cli"


def test_check_all_lists_a_backend_no_role_uses_as_unused_and_asks_it_nothing(llm_server, tmp_path) -> None:
    config = Config(backends={
        "used": BackendConfig(name="used", base_url=llm_server.openai_url),
        "spare": BackendConfig(name="spare", base_url=llm_server.openai_url),
        "gone": BackendConfig(name="gone", command="no-such-llm-cli-here"),
    })
    results = check_all(config, project_root=tmp_path, environ={}, used={"used"})
    assert [(r.backend, r.kind, r.status, r.ok) for r in results] == [
        ("gone", "cli", "unused", True), ("spare", "http", "unused", True), ("used", "http", "ok", True)]
    assert len(llm_server.requests) == 1  # only `used` was asked
