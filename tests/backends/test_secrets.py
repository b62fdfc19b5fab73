"""No credential reaches an error message, an LLM-log row or a log line, even when the server
echoes it back (llmux-proxies.md §4 scenarios 7 and 24)."""

from __future__ import annotations

import logging
import sqlite3

import pytest

from muxc.backends.base import BackendError, Cancel, CompletionRequest
from muxc.backends.registry import BackendPool
from muxc.backends.retry import Tuning
from muxc.backends.roles import resolve_role, run_role
from muxc.base.masking import SECRETS
from muxc.config.schema import BackendConfig, Config, RoleConfig
from muxc.store.llm_log import LlmLog
from tests.support.llm_server import RecordedRequest, Reply

KEY_A = "sk-test-123SECRET"
KEY_B = "opaque-token-without-prefix-777"
ENV = {"OPENAI_KEY_1": KEY_A, "OPENAI_KEY_2": KEY_B}


def echo_key_back(request: RecordedRequest) -> Reply:
    """A hostile server: every error quotes the credential it received."""
    key = request.api_key or ""
    if "unauthorized" in request.prompt:
        return Reply.error(401, f"Incorrect API key provided: {key}. Bearer {key}")
    return Reply(
        status=500, body=f"<html>upstream failed for x-api-key: {key} (Authorization: Bearer {key})</html>"
    )


def test_failing_calls_leak_no_key_anywhere(llm_server, tmp_path, caplog) -> None:
    llm_server.responder = echo_key_back
    backends = {
        "openai": BackendConfig(
            name="openai",
            base_url=llm_server.openai_url,
            credentials=["OPENAI_KEY_1", "OPENAI_KEY_2"],
            max_retries=1,
            retry_delay=10,
        ),
        "claude": BackendConfig(
            name="claude",
            protocol="anthropic",
            base_url=llm_server.url,
            api_key="${OPENAI_KEY_2}",
            max_retries=0,
        ),
    }
    config = Config(
        backends=backends,
        roles={"r": RoleConfig(name="r", backends=["openai", "claude"], execution="parallel")},
    )
    db = tmp_path / "llm-log.db"
    messages: list[str] = []
    with (
        caplog.at_level(logging.DEBUG),
        LlmLog(db) as log,
        BackendPool(config, tmp_path, logger=log, environ=ENV, tuning=Tuning(max_delay=0.05)) as pool,
    ):
        for prompt in ("server error please", "unauthorized please"):  # 401 last: it kills the keys
            result = run_role(resolve_role(config, "r"), pool, CompletionRequest(prompt, step="s"), Cancel())
            assert not result.ok
            messages += [*result.failures.values(), result.error or ""]
        for name in ("openai", "claude"):  # every key is dead now: the error names variables only
            with pytest.raises(BackendError) as caught:
                pool.get(name).complete(CompletionRequest("server error again"), Cancel())
            messages += [str(caught.value), repr(caught.value.body_start), caught.value.message]
    assert len(llm_server.completions) == 6 and {r.api_key for r in llm_server.completions} == {KEY_A, KEY_B}
    stored = "\n".join(sqlite3.connect(db).iterdump())
    everything = "\n".join([*messages, stored, caplog.text])
    assert "authentication failed for backend 'openai' (keys: OPENAI_KEY_1, OPENAI_KEY_2" in everything
    for key in (KEY_A, KEY_B, "123SECRET"):
        assert key not in everything
    assert KEY_A in SECRETS.values() and KEY_B in SECRETS.values()  # registered when resolved
