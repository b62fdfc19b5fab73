"""Roles: resolution with teams, and the first / fallback / parallel modes against a real server."""

from __future__ import annotations

import time

import pytest

from muxc.backends.base import Cancel, CompletionRequest
from muxc.backends.registry import BackendPool
from muxc.backends.retry import Tuning
from muxc.backends.roles import RoleError, resolve_role, run_role
from muxc.config.schema import BackendConfig, Config, RoleConfig, RoleOverride, TeamConfig
from tests.support.llm_server import LLMServer, RecordedRequest, Reply

NAMES = ("alpha", "beta", "gamma")


class ByModel:
    """Answers ``<model>: <prompt>``; ``delays`` and ``failures`` per model shape each backend."""

    def __init__(
        self, delays: dict[str, float] | None = None, failures: dict[str, Reply] | None = None
    ) -> None:
        self.delays = delays or {}
        self.failures = failures or {}

    def __call__(self, request: RecordedRequest) -> Reply:
        model = request.body["model"]
        if model in self.failures:
            return self.failures[model]
        return Reply(text=f"{model}: {request.prompt}", delay=self.delays.get(model, 0.0))


def config(
    server: LLMServer,
    role: RoleConfig,
    *,
    disabled: tuple[str, ...] = (),
    teams: dict[str, TeamConfig] | None = None,
) -> Config:
    backends = {
        name: BackendConfig(
            name=name, base_url=server.openai_url, model=name, max_retries=0, enabled=name not in disabled
        )
        for name in NAMES
    }
    return Config(backends=backends, roles={role.name: role}, teams=teams or {})


def run(server: LLMServer, role: RoleConfig, **kw):
    cfg = config(server, role, **kw)
    with BackendPool(cfg, ".", environ={}, tuning=Tuning(max_delay=0.1)) as pool:
        return run_role(resolve_role(cfg, role.name), pool, CompletionRequest("hi"), Cancel())


def role(execution: str = "first", backends: tuple[str, ...] = NAMES, **kw) -> RoleConfig:
    return RoleConfig(name="analyzer", backends=list(backends), execution=execution, **kw)  # type: ignore[arg-type]


# -- resolution ---------------------------------------------------------------------------------


def test_team_override_wins_for_backends_execution_and_min_success(llm_server) -> None:
    teams = {
        "rust": TeamConfig(
            name="rust", roles={"analyzer": RoleOverride(backends=["gamma", "beta"], execution="parallel")}
        )
    }
    cfg = config(
        llm_server, role("fallback", min_success=2, stop_early=True, fallback_on=["timeout"]), teams=teams
    )
    resolved = resolve_role(cfg, "analyzer", team="rust")
    assert resolved.backends == ["gamma", "beta"] and resolved.execution == "parallel"
    assert resolved.min_success == 2  # kept from the role, unlike llm-mux's reset to 1
    assert resolved.stop_early and resolved.fallback_on == ["timeout"]
    assert resolve_role(cfg, "analyzer").backends == list(NAMES)


def test_unknown_role_lists_the_known_ones_with_a_suggestion(llm_server) -> None:
    with pytest.raises(RoleError) as caught:
        resolve_role(config(llm_server, role()), "analyser")
    assert caught.value.message == "unknown role 'analyser'; did you mean 'analyzer'? (known roles: analyzer)"


def test_unknown_team_and_unknown_backend_are_errors(llm_server) -> None:
    with pytest.raises(RoleError, match="unknown team 'rusty'"):
        resolve_role(config(llm_server, role()), "analyzer", team="rusty")
    with pytest.raises(RoleError, match="uses backend 'delta', which is not configured"):
        resolve_role(config(llm_server, role(backends=("alpha", "delta"))), "analyzer")


def test_disabled_backends_are_skipped_and_none_enabled_is_an_error(llm_server) -> None:
    resolved = resolve_role(config(llm_server, role(), disabled=("alpha",)), "analyzer")
    assert resolved.backends == ["beta", "gamma"] and resolved.disabled == ["alpha"]
    with pytest.raises(RoleError, match="has no enabled backend \\(disabled: alpha, beta, gamma\\)"):
        resolve_role(config(llm_server, role(), disabled=NAMES), "analyzer")


# -- first and fallback -------------------------------------------------------------------------


def test_first_uses_only_the_first_enabled_backend_and_its_failure_fails_the_step(llm_server) -> None:
    llm_server.responder = ByModel(failures={"alpha": Reply.error(500, "boom")})
    result = run(llm_server, role("first"))
    assert not result.ok and result.backends == []
    assert list(result.failures) == ["alpha"] and "500" in result.failures["alpha"]
    assert "role 'analyzer' failed (alpha: server error 500" in (result.error or "")
    assert [r.body["model"] for r in llm_server.completions] == ["alpha"]


def test_first_answer(llm_server) -> None:
    llm_server.responder = ByModel()
    result = run(llm_server, role("first"), disabled=("alpha",))
    assert (
        result.ok
        and result.output == "beta: hi"
        and result.backend == "beta"
        and result.outputs == {"beta": "beta: hi"}
    )


def test_fallback_moves_on_after_a_failure(llm_server) -> None:
    llm_server.responder = ByModel(failures={"alpha": Reply.error(500), "beta": Reply.html()})
    result = run(llm_server, role("fallback"))
    assert result.ok and result.output == "gamma: hi" and result.backend == "gamma"
    assert result.failure_kinds == {"alpha": "server", "beta": "bad_response"}


def test_fallback_on_limits_which_failures_move_on(llm_server) -> None:
    llm_server.responder = ByModel(failures={"alpha": Reply.error(500)})
    result = run(llm_server, role("fallback", fallback_on=["rate_limit", "timeout"]))
    assert not result.ok and list(result.failures) == ["alpha"]
    assert [r.body["model"] for r in llm_server.completions] == ["alpha"]
    llm_server.reset()
    assert run(llm_server, role("fallback", fallback_on=["server"])).output == "beta: hi"


def test_fallback_on_empty_treats_an_empty_answer_as_a_failure(llm_server) -> None:
    llm_server.responder = ByModel(failures={"alpha": Reply(text="  ")})
    result = run(llm_server, role("fallback", fallback_on=["empty"]))
    assert result.output == "beta: hi" and result.failure_kinds == {"alpha": "empty"}


# -- parallel -----------------------------------------------------------------------------------


def test_parallel_output_is_in_role_order_whatever_the_arrival_order(llm_server) -> None:
    llm_server.responder = ByModel(delays={"alpha": 0.3, "beta": 0.15})
    result = run(llm_server, role("parallel"))
    assert result.ok and result.backends == ["alpha", "beta", "gamma"]
    assert result.output == "=== alpha ===\nalpha: hi\n\n=== beta ===\nbeta: hi\n\n=== gamma ===\ngamma: hi"
    assert list(result.outputs) == ["alpha", "beta", "gamma"] and result.backend == "alpha"
    assert result.usage.output_tokens == 6 and len(result.completions) == 3


def test_parallel_min_success_counts_answers_and_records_failures(llm_server) -> None:
    llm_server.responder = ByModel(failures={"beta": Reply.error(500, "down")})
    result = run(llm_server, role("parallel", min_success=2))
    assert result.ok and result.backends == ["alpha", "gamma"]
    assert result.output == "=== alpha ===\nalpha: hi\n\n=== gamma ===\ngamma: hi"
    assert "down" in result.failures["beta"]
    failed = run(llm_server, role("parallel", min_success=3))
    assert (
        not failed.ok
        and "of 3 required answers" in (failed.error or "")
        and "beta: server error 500" in (failed.error or "")
    )


def test_parallel_stop_early_returns_once_enough_answered_and_cancels_the_rest(llm_server) -> None:
    llm_server.responder = ByModel(delays={"gamma": 5.0})
    started = time.monotonic()
    result = run(llm_server, role("parallel", min_success=2, stop_early=True))
    assert time.monotonic() - started < 1.0
    assert result.ok and result.backends == ["alpha", "beta"]
    assert result.failure_kinds == {"gamma": "cancelled"} and "stop_early" in result.failures["gamma"]


def test_parallel_waits_for_everyone_without_stop_early(llm_server) -> None:
    llm_server.responder = ByModel(delays={"gamma": 0.3})
    started = time.monotonic()
    result = run(llm_server, role("parallel", min_success=1))
    assert time.monotonic() - started >= 0.3 and result.backends == list(NAMES)


def test_parallel_stops_once_min_success_is_unreachable(llm_server) -> None:
    llm_server.responder = ByModel(
        delays={"gamma": 5.0}, failures={"alpha": Reply.error(400), "beta": Reply.error(400)}
    )
    started = time.monotonic()
    result = run(llm_server, role("parallel", min_success=2))
    assert time.monotonic() - started < 1.0 and not result.ok
    assert result.failure_kinds["gamma"] == "cancelled"
