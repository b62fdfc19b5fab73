"""Tools across the translation (ids, parallel calls, streaming argument deltas), bad input, upstream
failures in the client's format, API keys and the body limit."""

from __future__ import annotations

import json

import anthropic
import httpx
import openai
import pytest

from tests.serve.conftest import Gateway, base_config, weather_call_events
from tests.support.llm_server import LLMServer, Reply

TOOLS_AN = [{"name": "get_weather", "description": "weather", "input_schema": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
TOOLS_OA = [{"type": "function", "function": {"name": "get_weather", "description": "weather",
                                              "parameters": TOOLS_AN[0]["input_schema"]}}]


def openai_tool_doc() -> dict:
    calls = [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}},
             {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}}]
    return {"id": "x", "object": "chat.completion", "model": "m", "choices": [{"index": 0, "finish_reason": "tool_calls",
            "message": {"role": "assistant", "content": None, "tool_calls": calls}}],
            "usage": {"prompt_tokens": 30, "completion_tokens": 9, "prompt_tokens_details": {"cached_tokens": 20}}}


def test_anthropic_tools_on_an_openai_backend_round_trip(gateway: Gateway, llm_server: LLMServer) -> None:
    llm_server.script(Reply(json=openai_tool_doc()))
    client = gateway.keep(anthropic.Anthropic(base_url=gateway.url, api_key="x", max_retries=0))
    message = client.messages.create(model="coder", max_tokens=100, tools=TOOLS_AN,
                                      tool_choice={"type": "tool", "name": "get_weather"},
                                      messages=[{"role": "user", "content": "weather in Oslo and Rome?"}])
    assert message.stop_reason == "tool_use"
    assert [(b.id, b.name, b.input) for b in message.content] == [
        ("call_1", "get_weather", {"city": "Oslo"}), ("call_2", "get_weather", {"city": "Rome"})]
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens) == (10, 20)
    sent = llm_server.requests[-1].body
    assert sent["tools"] == TOOLS_OA
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    # the next turn: tool results with their ids become tool messages, in order
    client.messages.create(model="coder", max_tokens=100, tools=TOOLS_AN, messages=[
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [b.model_dump() for b in message.content]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"},
            {"type": "tool_result", "tool_use_id": "call_2", "content": "rain", "is_error": True},
            {"type": "text", "text": "thanks"}]}])
    turns = llm_server.requests[-1].body["messages"]
    assert turns[1]["tool_calls"][1] == {"id": "call_2", "type": "function",
                                         "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}}
    assert turns[2:] == [{"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
                         {"role": "tool", "tool_call_id": "call_2", "content": "Error: rain"},
                         {"role": "user", "content": [{"type": "text", "text": "thanks"}]}]


def test_streamed_openai_tool_calls_become_input_json_deltas(gateway: Gateway, llm_server: LLMServer) -> None:
    llm_server.script(Reply(events=weather_call_events(), stream=True))
    client = gateway.keep(anthropic.Anthropic(base_url=gateway.url, api_key="x", max_retries=0))
    with client.messages.stream(model="coder", max_tokens=100, tools=TOOLS_AN,
                                messages=[{"role": "user", "content": "weather?"}]) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert "input_json" in kinds or "content_block_delta" in kinds
    assert final.content[0].text == "Let me check."
    assert (final.content[1].id, final.content[1].input) == ("call_9", {"city": "Oslo"})
    assert final.stop_reason == "tool_use" and final.usage.output_tokens == 7


def test_openai_tools_on_an_anthropic_backend(gateway: Gateway, llm_server: LLMServer) -> None:
    doc = {"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "stop_reason": "tool_use",
           "content": [{"type": "text", "text": "checking"},
                       {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}}],
           "usage": {"input_tokens": 3, "output_tokens": 4, "cache_read_input_tokens": 10}}
    llm_server.script(Reply(json=doc))
    client = gateway.keep(openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0))
    answer = client.chat.completions.create(model="writer", tools=TOOLS_OA, tool_choice="required",
                                            parallel_tool_calls=False,
                                            messages=[{"role": "user", "content": "weather?"}])
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content == "checking"
    call = choice.message.tool_calls[0]
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == ("toolu_1", "get_weather", {"city": "Oslo"})
    assert (answer.usage.prompt_tokens, answer.usage.prompt_tokens_details.cached_tokens) == (13, 10)
    sent = llm_server.requests[-1].body
    assert sent["tools"] == TOOLS_AN
    assert sent["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}


def test_what_cannot_be_expressed_is_a_400_naming_the_field(gateway: Gateway) -> None:
    response = httpx.post(gateway.url + "/v1/messages", json={
        "model": "coder", "max_tokens": 10, "messages": [{"role": "user", "content": [
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "x"}}]}]})
    assert response.status_code == 400
    assert "messages[0].content[0].type" in response.json()["error"]["message"]
    response = httpx.post(gateway.url + "/v1/chat/completions", json={
        "model": "writer", "seed": 7, "messages": [{"role": "user", "content": "x"}]})
    assert response.status_code == 400 and response.json()["error"]["message"].startswith("seed:")


@pytest.mark.parametrize(("body", "why"), [
    (b"{not json", "not valid JSON"), (b"[1, 2]", "JSON object"), (b'{"model": "coder"}', "messages"),
    (b'{"model": 5, "messages": []}', "model"), (b'{"model": "coder", "messages": "hi"}', "messages"),
])
def test_malformed_requests_get_a_400_in_the_clients_format(gateway: Gateway, body: bytes, why: str) -> None:
    for path, shape in (("/v1/chat/completions", "openai"), ("/v1/messages", "anthropic")):
        response = httpx.post(gateway.url + path, content=body, headers={"content-type": "application/json"})
        assert response.status_code == 400
        data = response.json()
        assert why in data["error"]["message"]
        assert (data.get("type") == "error") == (shape == "anthropic")


def test_upstream_failures_come_back_in_the_clients_format(fresh_gateway: Gateway, llm_server: LLMServer) -> None:
    gateway = fresh_gateway
    llm_server.script(Reply.rate_limited(retry_after="30"))
    response = httpx.post(gateway.url + "/v1/messages", json={"model": "coder", "max_tokens": 5,
                                                             "messages": [{"role": "user", "content": "x"}]})
    assert response.status_code == 429 and response.json()["error"]["type"] == "rate_limit_error"
    assert int(response.headers["retry-after"]) >= 1
    llm_server.script(*[Reply.error(503, "overloaded")] * 3)
    response = httpx.post(gateway.url + "/v1/chat/completions", json={"model": "writer",
                                                                      "messages": [{"role": "user", "content": "x"}]})
    assert response.status_code == 502 and "503" in response.json()["error"]["message"]
    assert "sk-ant-upstream-secret" not in response.text
    llm_server.script(Reply.error(400, "bad param"))
    response = httpx.post(gateway.url + "/v1/chat/completions", json={"model": "writer",
                                                                      "messages": [{"role": "user", "content": "x"}]})
    assert response.status_code == 400 and "bad param" in response.json()["error"]["message"]


def test_an_html_page_and_a_5xx_are_retried_then_answered(gateway: Gateway, llm_server: LLMServer) -> None:
    llm_server.script(Reply.html(), Reply.error(500))
    response = httpx.post(gateway.url + "/v1/chat/completions", json={"model": "coder",
                                                                      "messages": [{"role": "user", "content": "ok"}]})
    assert response.status_code == 200 and response.json()["choices"][0]["message"]["content"] == "echo: ok"


def test_fallback_role_moves_on_to_the_next_backend(fresh_gateway: Gateway, llm_server: LLMServer) -> None:
    gateway = fresh_gateway
    llm_server.script(Reply.error(401), Reply(text="from openai"))
    response = httpx.post(gateway.url + "/v1/messages", json={"model": "sturdy", "max_tokens": 5,
                                                             "messages": [{"role": "user", "content": "x"}]})
    assert response.status_code == 200 and response.json()["content"][0]["text"] == "from openai"


def test_a_truncated_stream_ends_with_an_error_event(gateway: Gateway, llm_server: LLMServer) -> None:
    llm_server.script(Reply.no_terminal_event())
    with httpx.stream("POST", gateway.url + "/v1/messages", json={
            "model": "coder", "max_tokens": 5, "stream": True, "messages": [{"role": "user", "content": "x"}]}) as r:
        body = r.read().decode()
    assert "event: error" in body and "message_stop" not in body
    # and the server keeps serving
    ok = httpx.post(gateway.url + "/v1/chat/completions", json={"model": "coder",
                                                               "messages": [{"role": "user", "content": "y"}]})
    assert ok.status_code == 200


def test_an_oversize_body_is_a_413(gateway: Gateway) -> None:
    response = httpx.post(gateway.url + "/v1/messages", content=b"x" * (33 * 1024 * 1024),
                          headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.json()["error"]["type"] == "request_too_large"


def test_api_keys_are_required_when_configured(tmp_path, llm_server: LLMServer) -> None:
    config = base_config(llm_server) + '\n[serve]\napi_keys = ["${SERVE_KEY}"]\n'
    gateway = Gateway(tmp_path, config, env={"SERVE_KEY": "let-me-in"}).start()
    try:
        body = {"model": "coder", "messages": [{"role": "user", "content": "x"}]}
        assert httpx.post(gateway.url + "/v1/chat/completions", json=body).status_code == 401
        wrong = httpx.post(gateway.url + "/v1/chat/completions", json=body, headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401
        right = httpx.post(gateway.url + "/v1/chat/completions", json=body,
                           headers={"authorization": "Bearer let-me-in"})
        assert right.status_code == 200
        assert httpx.post(gateway.url + "/v1/messages", headers={"x-api-key": "let-me-in"}, json={
            **body, "max_tokens": 5}).status_code == 200
        assert httpx.get(gateway.url + "/health").status_code == 200
    finally:
        gateway.stop()


def test_a_public_host_without_keys_is_refused(tmp_path, llm_server: LLMServer) -> None:
    import subprocess
    import sys

    (tmp_path / ".muxc").mkdir()
    (tmp_path / ".muxc" / "config.toml").write_text(base_config(llm_server))
    result = subprocess.run([sys.executable, "-m", "muxc", "-C", str(tmp_path), "serve", "--host", "0.0.0.0"],
                            capture_output=True, text=True, timeout=30,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "OA_KEY": "a", "AN_KEY": "b"})
    assert result.returncode == 1 and "refusing to listen on 0.0.0.0" in result.stderr
    assert "api_keys" in result.stderr and "Traceback" not in result.stderr


def test_the_daily_budget_gives_a_429(tmp_path, llm_server: LLMServer) -> None:
    config = base_config(llm_server) + "\n[serve]\nmax_cost_per_day = 0.001\n"
    gateway = Gateway(tmp_path, config).start()
    try:
        body = {"model": "writer", "messages": [{"role": "user", "content": "x"}]}
        assert httpx.post(gateway.url + "/v1/chat/completions", json=body).status_code == 200
        over = httpx.post(gateway.url + "/v1/chat/completions", json=body)
        assert over.status_code == 429 and "max_cost_per_day" in over.json()["error"]["message"]
        metrics = httpx.get(gateway.url + "/metrics").text
        assert 'llmux_requests_total{backend="an",model="writer",status="200"} 1.0' in metrics
        assert "llmux_rate_limited_total" in metrics and "sk-" not in metrics
    finally:
        gateway.stop()


def test_a_parallel_role_answers_with_the_first_success(gateway: Gateway, llm_server: LLMServer) -> None:
    from tests.support.llm_server import echo_reply

    llm_server.responder = lambda r: Reply.error(400, "refused") if r.protocol == "anthropic" else echo_reply(r)
    response = httpx.post(gateway.url + "/v1/messages", json={"model": "both", "max_tokens": 5,
                                                             "messages": [{"role": "user", "content": "race"}]})
    assert response.status_code == 200 and response.json()["content"][0]["text"] == "echo: race"
    assert sorted(r.protocol for r in llm_server.completions) == ["anthropic", "openai"]  # both were asked


def test_an_upstream_that_stalls_mid_stream_ends_in_an_error_event(tmp_path, llm_server: LLMServer) -> None:
    gateway = Gateway(tmp_path, base_config(llm_server, idle_timeout="0.5s")).start()
    try:
        llm_server.script(Reply(text="a b c d", stall_after=2, stream=True))
        client = gateway.keep(openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0))
        stream = client.chat.completions.create(model="coder", stream=True,
                                                messages=[{"role": "user", "content": "x"}])
        with pytest.raises(openai.APIError, match="ended before its answer was complete"):
            list(stream)
        ok = client.chat.completions.create(model="coder", messages=[{"role": "user", "content": "again"}])
        assert ok.choices[0].message.content == "echo: again"
    finally:
        gateway.close()
    assert "status=200" in gateway.stderr() and "failed mid-answer" in gateway.stderr()


def test_a_route_to_nothing_is_refused_at_startup(tmp_path, llm_server: LLMServer) -> None:
    import subprocess
    import sys

    (tmp_path / ".muxc").mkdir()
    (tmp_path / ".muxc" / "config.toml").write_text(base_config(llm_server).replace('"gpt-*" = "writer"',
                                                                                    '"gpt-*" = "writr"'))
    result = subprocess.run([sys.executable, "-m", "muxc", "-C", str(tmp_path), "serve"], capture_output=True,
                            text=True, timeout=30, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert result.returncode == 1
    assert "[serve.routes] 'gpt-*' = 'writr': no role or backend has that name" in result.stderr


def test_a_port_in_use_is_exit_1_with_a_message(gateway: Gateway) -> None:
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "muxc", "-C", str(gateway.dir), "serve", "--port",
                             str(gateway.port)], capture_output=True, text=True, timeout=30, env=gateway.env)
    assert result.returncode == 1
    assert f"could not listen on 127.0.0.1:{gateway.port}" in result.stderr and "Traceback" not in result.stderr


def test_a_short_retry_after_is_waited_out(gateway: Gateway, llm_server: LLMServer) -> None:
    llm_server.script(Reply.rate_limited(retry_after="1"))
    response = httpx.post(gateway.url + "/v1/chat/completions", timeout=30, json={
        "model": "writer", "messages": [{"role": "user", "content": "patience"}]})
    assert response.status_code == 200 and response.json()["choices"][0]["message"]["content"] == "echo: patience"
    assert llm_server.calls == 2


def test_a_teams_role_override_routes_as_in_builds(tmp_path, llm_server: LLMServer) -> None:
    config = base_config(llm_server) + '\n[teams.t]\ndetect = []\n[teams.t.roles.coder]\nbackends = ["an"]\n'
    gateway = Gateway(tmp_path, config, global_args=("--team", "t")).start()
    try:
        response = httpx.post(gateway.url + "/v1/chat/completions", json={
            "model": "coder", "messages": [{"role": "user", "content": "which"}]})
        assert response.status_code == 200 and llm_server.requests[-1].protocol == "anthropic"
    finally:
        gateway.stop()
