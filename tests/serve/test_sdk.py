"""The official openai and anthropic SDKs against a real ``muxc serve``: both protocols on both kinds
of backend (pass-through and translated), streaming and not, tools, errors in the client's format."""

from __future__ import annotations

import json

import anthropic
import httpx
import openai
import pytest

from tests.support.llm_server import LLMServer, Reply


def oa_client(gateway, **kw) -> openai.OpenAI:
    return gateway.keep(openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0, **kw))


def an_client(gateway, **kw) -> anthropic.Anthropic:
    return gateway.keep(anthropic.Anthropic(base_url=gateway.url, api_key="unused", max_retries=0, **kw))


def test_openai_client_on_openai_backend_passes_through(gateway, llm_server: LLMServer) -> None:
    answer = oa_client(gateway).chat.completions.create(
        model="coder", messages=[{"role": "user", "content": "hello there"}])
    assert answer.choices[0].message.content == "echo: hello there"
    upstream = llm_server.requests[-1]
    assert upstream.body["model"] == "upstream-gpt"  # the backend's model, not the client's name
    assert upstream.api_key == "sk-upstream-openai-secret"  # the gateway's credential, never the client's


def test_openai_client_streams_through_openai_backend(gateway, llm_server: LLMServer) -> None:
    llm_server.script(Reply(text="one two three"))
    chunks = list(oa_client(gateway).chat.completions.create(
        model="coder", messages=[{"role": "user", "content": "count"}], stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "one two three"
    # the gateway asked for usage on the client's behalf (for its log) and held that chunk back
    assert llm_server.requests[-1].body["stream_options"] == {"include_usage": True}
    assert all(c.choices for c in chunks)


def test_anthropic_client_on_openai_backend_is_translated(gateway, llm_server: LLMServer) -> None:
    message = an_client(gateway).messages.create(
        model="claude-sonnet-4-5", max_tokens=100, system="be brief", stop_sequences=["END"],
        messages=[{"role": "user", "content": "hello there"}])
    assert message.content[0].text == "echo: hello there"
    assert message.stop_reason == "end_turn" and message.model == "claude-sonnet-4-5"
    sent = llm_server.requests[-1]
    assert sent.protocol == "openai"
    assert sent.body["messages"][0] == {"role": "system", "content": "be brief"}
    assert sent.body["stop"] == ["END"] and sent.body["max_tokens"] == 100
    assert message.usage.input_tokens >= 0 and message.usage.output_tokens >= 0


def test_anthropic_client_streams_from_openai_backend(gateway, llm_server: LLMServer) -> None:
    llm_server.script(Reply(text="alpha beta gamma"))
    with an_client(gateway).messages.stream(model="claude-x", max_tokens=50,
                                            messages=[{"role": "user", "content": "go"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "alpha beta gamma" and final.stop_reason == "end_turn"


def test_openai_client_on_anthropic_backend_is_translated(gateway, llm_server: LLMServer) -> None:
    answer = oa_client(gateway).chat.completions.create(
        model="writer", messages=[{"role": "system", "content": "sys"}, {"role": "user", "content": "hi you"}],
        max_tokens=64, stop="STOP")
    assert answer.choices[0].message.content == "echo: hi you"
    assert answer.choices[0].finish_reason == "stop"
    sent = llm_server.requests[-1]
    assert sent.protocol == "anthropic"
    assert sent.body["system"] == [{"type": "text", "text": "sys"}]
    assert sent.body["stop_sequences"] == ["STOP"] and sent.body["max_tokens"] == 64
    assert sent.api_key == "sk-ant-upstream-secret"


def test_openai_client_streams_from_anthropic_backend_with_usage(gateway, llm_server: LLMServer) -> None:
    llm_server.script(Reply(text="red green"))
    chunks = list(oa_client(gateway).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "colours"}], stream=True,
        stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "red green"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_anthropic_client_passes_through_with_beta_header_and_query(gateway, llm_server: LLMServer) -> None:
    response = httpx.post(gateway.url + "/v1/messages?beta=true", headers={
        "anthropic-version": "2023-06-01", "anthropic-beta": "tools-2024-04-04"},
        json={"model": "an", "max_tokens": 10, "messages": [{"role": "user", "content": "hey"}]})
    assert response.status_code == 200 and response.json()["content"][0]["text"] == "echo: hey"
    assert llm_server.requests[-1].headers["anthropic-beta"] == "tools-2024-04-04"


def test_unknown_model_is_a_404_in_each_clients_format(gateway) -> None:
    with pytest.raises(openai.NotFoundError) as found:
        oa_client(gateway).chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    assert "coder" in str(found.value) and "writer" in str(found.value)
    with pytest.raises(anthropic.NotFoundError) as found_an:
        an_client(gateway).messages.create(model="nope", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert found_an.value.body["error"]["type"] == "not_found_error"


def test_models_lists_roles_backends_and_aliases(gateway) -> None:
    ids = [m.id for m in oa_client(gateway).models.list()]
    assert {"coder", "writer", "sturdy", "oa", "an"} <= set(ids)
    anthropic_ids = [m.id for m in an_client(gateway).models.list()]
    assert set(anthropic_ids) == set(ids)


def test_count_tokens_is_a_labelled_estimate(gateway) -> None:
    response = httpx.post(gateway.url + "/v1/messages/count_tokens", json={
        "model": "writer", "messages": [{"role": "user", "content": "x" * 400}]})
    assert response.json()["input_tokens"] == 100 and response.json()["estimate"] is True


def test_every_request_gets_one_stderr_line_and_a_served_log_row(fresh_gateway, llm_server: LLMServer) -> None:
    gateway = fresh_gateway
    oa_client(gateway).chat.completions.create(model="coder", messages=[{"role": "user", "content": "logged"}])
    gateway.stop()  # flushes the LLM log
    lines = [line for line in gateway.stderr().splitlines() if "/v1/chat/completions" in line]
    assert len(lines) == 1 and "model=coder backend=oa status=200" in lines[0]
    assert "sk-upstream" not in gateway.stderr()
    import subprocess
    import sys

    shown = subprocess.run([sys.executable, "-m", "muxc", "--output", "json", "logs"], env=gateway.env,
                           capture_output=True, text=True, cwd=gateway.dir)
    rows = json.loads(shown.stdout)
    assert rows[0]["workflow"] == "(serve)" and rows[0]["step"] == "POST /v1/chat/completions"
    assert rows[0]["prompt"] == "logged" and rows[0]["response"] == "echo: logged"


def test_anthropic_client_streams_through_anthropic_backend(gateway, llm_server: LLMServer) -> None:
    llm_server.script(Reply(text="pass through"))
    with an_client(gateway).messages.stream(model="writer", max_tokens=20,
                                            messages=[{"role": "user", "content": "go"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "pass through" and final.stop_reason == "end_turn"
    assert llm_server.requests[-1].protocol == "anthropic" and llm_server.requests[-1].stream


def test_a_credential_pool_fails_over_on_401_and_max_concurrent_queues(tmp_path, llm_server: LLMServer) -> None:
    import concurrent.futures

    from tests.serve.conftest import Gateway, base_config

    config = base_config(llm_server).replace('api_key = "${OA_KEY}"', 'credentials = ["env:K1", "env:K2"]\n'
                                             "max_concurrent = 1", 1)
    gateway = Gateway(tmp_path, config, env={"K1": "sk-first-key", "K2": "sk-second-key"}).start()
    try:
        llm_server.script(Reply.error(401, "bad key"))
        client = gateway.keep(oa_client(gateway))
        answer = client.chat.completions.create(model="coder", messages=[{"role": "user", "content": "hi"}])
        assert answer.choices[0].message.content == "echo: hi"
        assert [r.api_key for r in llm_server.completions] == ["sk-first-key", "sk-second-key"]
        llm_server.latency = 0.1
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda i: client.chat.completions.create(
                model="coder", messages=[{"role": "user", "content": f"q{i}"}]).choices[0].message.content, range(4)))
        assert answers == [f"echo: q{i}" for i in range(4)]  # queued, not rejected
        assert llm_server.max_in_flight == 1
    finally:
        gateway.close()


def test_a_stream_is_made_when_the_upstream_ignores_stream_true(gateway, llm_server: LLMServer) -> None:
    llm_server.script(Reply(text="all at once", stream=False), Reply(text="at once too", stream=False))
    chunks = list(oa_client(gateway).chat.completions.create(
        model="coder", messages=[{"role": "user", "content": "x"}], stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "all at once"
    with an_client(gateway).messages.stream(model="claude-x", max_tokens=20,
                                            messages=[{"role": "user", "content": "x"}]) as stream:
        assert "".join(stream.text_stream) == "at once too"
        assert stream.get_final_message().stop_reason == "end_turn"
