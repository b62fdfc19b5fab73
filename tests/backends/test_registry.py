"""Building backends from config: the kind chosen, one instance per build, identities that match
the config-only fast path (``muxc.backends.identity``), build-wide defaults."""

from __future__ import annotations

import threading

import pytest

from muxc.backends import identity as config_identity
from muxc.backends.base import BackendError, Cancel, CompletionRequest
from muxc.backends.cli import CliBackend
from muxc.backends.http.client import HttpBackend
from muxc.backends.registry import BackendPool, create_backend
from muxc.config.schema import BackendConfig, Config, Defaults
from tests.support.llm_server import LLMServer

CONFIGS = [
    BackendConfig(name="cmd-url", command="http://127.0.0.1:1/v1", model="m", params={"temperature": 0}),
    BackendConfig(
        name="base-url", base_url="https://user:pw@example.test/v1?api-key=x", api_key="sk-zzzzzzzz"
    ),
    BackendConfig(name="slash", base_url="http://127.0.0.1:3/v1/"),
    BackendConfig(name="claude", type="claude-api", api_key_env="MY_ANTHROPIC"),
    BackendConfig(name="anthropic-local", protocol="anthropic", base_url="http://127.0.0.1:2", model="c"),
    BackendConfig(name="codex", command="codex", args=["exec", "--json"], env=[["NO_COLOR", "1"]]),
    BackendConfig(name="claude-cli", command="claude", args=["-p"], env={"A": "1"}, reads_project=False),
]


def test_identities_hold_what_shapes_answers_and_never_secrets(tmp_path) -> None:
    environ = {"MY_ANTHROPIC": "sk-ant-123456"}
    described = {
        c.name: create_backend(c, project_root=tmp_path, environ=environ).identity() for c in CONFIGS
    }
    assert described["base-url"] == {
        "kind": "http",
        "protocol": "openai",
        "model": "gpt-4",
        "params": {},
        "base_url": "https://example.test/v1",
    }
    assert described["slash"]["base_url"] == "http://127.0.0.1:3/v1"
    assert described["claude"] == {
        "kind": "http",
        "protocol": "anthropic",
        "model": "claude-sonnet-4-20250514",
        "params": {},
        "base_url": "https://api.anthropic.com",
    }
    assert described["codex"] == {
        "kind": "cli",
        "command": "codex",
        "args": ["exec", "--json"],
        "model": None,
        "env": ["NO_COLOR"],
    }
    assert "sk-" not in repr(described) and "pw" not in repr(described)
    assert described == {c.name: config_identity.identity(c) for c in CONFIGS}


def test_cli_backends_read_the_project_unless_told_otherwise(tmp_path) -> None:
    reads = {c.name: create_backend(c, project_root=tmp_path, environ={}).reads_project for c in CONFIGS}
    assert reads == {
        "cmd-url": False,
        "base-url": False,
        "slash": False,
        "claude": False,
        "anthropic-local": False,
        "codex": True,
        "claude-cli": False,
    }


def test_the_kind_follows_the_config(tmp_path) -> None:
    kinds = {c.name: type(create_backend(c, project_root=tmp_path, environ={})).__name__ for c in CONFIGS}
    assert kinds == {
        "cmd-url": HttpBackend.__name__,
        "base-url": HttpBackend.__name__,
        "slash": HttpBackend.__name__,
        "claude": HttpBackend.__name__,
        "anthropic-local": HttpBackend.__name__,
        "codex": CliBackend.__name__,
        "claude-cli": CliBackend.__name__,
    }


def test_http_without_a_url_and_local_without_its_server_are_clear_errors(tmp_path) -> None:
    with pytest.raises(BackendError) as caught:
        create_backend(BackendConfig(name="h", type="http"), project_root=tmp_path)
    assert caught.value.kind == "config" and "set base_url" in caught.value.message
    with pytest.raises(BackendError) as caught:
        create_backend(BackendConfig(name="local", type="local", protocol="openai"), project_root=tmp_path)
    assert caught.value.kind == "unavailable" and "muxc[local]" in caught.value.message


def test_pool_creates_one_instance_per_name_lazily_and_closes_them(tmp_path) -> None:
    with LLMServer() as server:
        config = Config(backends={"a": BackendConfig(name="a", base_url=server.openai_url)})
        pool = BackendPool(config, tmp_path, environ={})
        assert pool.created() == {}
        seen = []
        threads = [threading.Thread(target=lambda: seen.append(pool.get("a"))) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len({id(backend) for backend in seen}) == 1
        with pytest.raises(BackendError, match="no backend named 'b' is configured \\(configured: a\\)"):
            pool.get("b")
        pool.close()
        assert pool.created() == {}


def test_defaults_max_concurrent_applies_to_backends_without_their_own(tmp_path) -> None:
    with LLMServer(latency=0.1) as server:
        config = Config(
            defaults=Defaults(max_concurrent=2),
            backends={"a": BackendConfig(name="a", base_url=server.openai_url)},
        )
        with BackendPool(config, tmp_path, environ={}) as pool:
            backend = pool.get("a")
            threads = [
                threading.Thread(target=backend.complete, args=(CompletionRequest(f"p{i}"), Cancel()))
                for i in range(6)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        assert server.calls == 6 and server.max_in_flight == 2
