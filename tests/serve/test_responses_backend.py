"""A backend declared ``protocol = "responses"``: ``/v1/responses`` clients pass through to it
(streams forwarded event by event), a conversation stored by the gateway continues on it, chat
completions and Anthropic clients are translated to it (streams and tool calls included), and a
build-side adapter reads its answers."""

from __future__ import annotations

import json
import textwrap

import anthropic
import openai
import pytest

from muxc.backends.base import CompletionRequest
from muxc.backends.http.protocol import BadResponse, StreamError
from muxc.backends.http.responses import ResponsesAdapter
from tests.serve.conftest import Gateway, base_config
from tests.support.llm_server import LLMServer, Reply


@pytest.fixture(scope="module")
def responses_gateway(tmp_path_factory, shared_server: LLMServer):
    config = base_config(shared_server) + textwrap.dedent(f"""
        [backends.rs]
        protocol = "responses"
        base_url = "{shared_server.openai_url}"
        model = "upstream-resp"
        api_key = "${{OA_KEY}}"
        max_retries = 1
        retry_delay = "10ms"

        [serve]
        default_max_tokens = 32000
        """)
    gateway = Gateway(tmp_path_factory.mktemp("responses-gateway"), config).start()
    yield gateway
    gateway.close()


@pytest.fixture
def gateway(responses_gateway: Gateway, llm_server: LLMServer) -> Gateway:
    return responses_gateway


def client(gateway) -> openai.OpenAI:
    return gateway.keep(openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0))


def test_a_response_passes_through(gateway, llm_server: LLMServer) -> None:
    response = client(gateway).responses.create(model="rs", input="hello there", instructions="be brief",
                                                reasoning={"effort": "high"})
    assert response.output_text == "echo: hello there" and response.id == "resp_test"
    sent = llm_server.requests[-1]
    assert sent.path == "/v1/responses" and sent.api_key == "sk-upstream-openai-secret"
    assert sent.body["model"] == "upstream-resp" and sent.body["reasoning"] == {"effort": "high"}
    assert sent.body["instructions"] == "be brief"


def test_a_stream_is_forwarded_event_by_event(gateway, llm_server: LLMServer) -> None:
    llm_server.script(Reply(text="one two"))
    events = list(client(gateway).responses.create(model="rs", input="count", stream=True))
    assert [e.type for e in events] == [
        "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
        "response.output_text.delta", "response.output_text.delta", "response.output_item.done",
        "response.completed"]
    assert events[-1].response.output_text == "one two"


def test_a_stored_chat_turn_continues_on_the_responses_backend(gateway, llm_server: LLMServer) -> None:
    oa = client(gateway)
    first = oa.responses.create(model="coder", input="my name is Ada")
    oa.responses.create(model="rs", input="and yours?", previous_response_id=first.id)
    sent = llm_server.requests[-1].body
    assert "previous_response_id" not in sent  # the upstream never saw that id
    assert [item.get("role") for item in sent["input"]] == ["user", "assistant", "user"]
    assert sent["input"][1]["content"][0]["text"] == "echo: my name is Ada"


def test_a_truncated_stream_ends_in_response_failed(gateway, llm_server: LLMServer) -> None:
    llm_server.script(Reply.no_terminal_event("half an answer"))
    events = list(client(gateway).responses.create(model="rs", input="x", stream=True))
    assert events[-1].type == "response.failed"


def responses_tool_events(call_id: str, name: str, pieces: list[str]) -> list[str]:
    item = {"type": "function_call", "id": "fc_1", "call_id": call_id, "name": name, "arguments": ""}
    done = {**item, "arguments": "".join(pieces), "status": "completed"}
    final = {"id": "resp_t", "object": "response", "status": "completed", "output": [done],
             "usage": {"input_tokens": 9, "output_tokens": 4, "input_tokens_details": {"cached_tokens": 3}}}
    data = [{"type": "response.created", "response": {**final, "status": "in_progress", "output": []}},
            {"type": "response.output_item.added", "output_index": 0, "item": item},
            *[{"type": "response.function_call_arguments.delta", "item_id": "fc_1", "output_index": 0, "delta": p}
              for p in pieces],
            {"type": "response.output_item.done", "output_index": 0, "item": done},
            {"type": "response.completed", "response": final}]
    return [f"event: {d['type']}\ndata: " + json.dumps({**d, "sequence_number": i}) for i, d in enumerate(data)]


TOOL_OA = [{"type": "function", "function": {"name": "get_weather", "description": "weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}}}}]


def test_a_chat_client_on_a_responses_backend(gateway, llm_server: LLMServer) -> None:
    oa = client(gateway)
    answer = oa.chat.completions.create(model="rs", max_tokens=40, messages=[
        {"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}])
    assert answer.choices[0].message.content == "echo: hello there" and answer.choices[0].finish_reason == "stop"
    sent = llm_server.requests[-1].body
    assert sent["instructions"] == "be brief" and sent["max_output_tokens"] == 40 and sent["store"] is False
    assert sent["input"] == [{"type": "message", "role": "user", "content": "hello there"}]
    llm_server.script(Reply(stream=True, events=responses_tool_events("call_7", "get_weather",
                                                                      ['{"city": ', '"Oslo"}'])))
    chunks = list(oa.chat.completions.create(model="rs", tools=TOOL_OA, stream=True,
                                             stream_options={"include_usage": True},
                                             messages=[{"role": "user", "content": "weather?"}]))
    calls = [c.choices[0].delta.tool_calls[0] for c in chunks if c.choices and c.choices[0].delta.tool_calls]
    assert (calls[0].id, calls[0].function.name) == ("call_7", "get_weather")
    assert "".join(c.function.arguments or "" for c in calls) == '{"city": "Oslo"}'
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]
    assert chunks[-1].usage.prompt_tokens == 9 and chunks[-1].usage.prompt_tokens_details.cached_tokens == 3
    assert llm_server.requests[-1].body["tools"] == [{"type": "function", "name": "get_weather",
                                                      "description": "weather",
                                                      "parameters": TOOL_OA[0]["function"]["parameters"]}]
    with pytest.raises(openai.BadRequestError) as bad:
        oa.chat.completions.create(model="rs", stop=["END"], messages=[{"role": "user", "content": "x"}])
    assert bad.value.body["param"] == "stop"


def test_an_anthropic_client_on_a_responses_backend(gateway, llm_server: LLMServer) -> None:
    an = gateway.keep(anthropic.Anthropic(base_url=gateway.url, api_key="unused", max_retries=0))
    llm_server.script(Reply(text="alpha beta"))
    with an.messages.stream(model="rs", max_tokens=50, system="sys",
                            messages=[{"role": "user", "content": "go"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "alpha beta" and final.stop_reason == "end_turn"
    assert llm_server.requests[-1].body["instructions"] == "sys"
    llm_server.script(Reply(stream=True, events=responses_tool_events("call_8", "get_weather", ['{"city": "Rome"}'])))
    with an.messages.stream(model="rs", max_tokens=50, tools=[{"name": "get_weather", "input_schema": {
            "type": "object"}}], messages=[{"role": "user", "content": "weather?"}]) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert (final.content[0].id, final.content[0].input) == ("call_8", {"city": "Rome"})
    message = an.messages.create(model="rs", max_tokens=20, messages=[
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "call_8", "name": "get_weather",
                                           "input": {"city": "Rome"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_8", "content": "sunny"}]}])
    assert message.content[0].type == "text"
    sent = llm_server.requests[-1].body["input"]
    assert [item["type"] for item in sent] == ["message", "function_call", "function_call_output"]
    assert sent[2] == {"type": "function_call_output", "call_id": "call_8", "output": "sunny"}


def test_the_build_adapter_reads_documents_and_streams() -> None:
    adapter = ResponsesAdapter()
    body = adapter.body("m", CompletionRequest(prompt="hi", system="sys"), {"max_tokens": 5}, stream=True)
    assert body == {"model": "m", "store": False, "input": [{"role": "user", "content": "hi"}],
                    "instructions": "sys", "max_output_tokens": 5, "stream": True}
    answer = adapter.parse({"object": "response", "status": "completed", "model": "m", "output": [
        {"type": "reasoning", "summary": []},
        {"type": "message", "content": [{"type": "output_text", "text": "hello"}]}],
        "usage": {"input_tokens": 10, "output_tokens": 2, "input_tokens_details": {"cached_tokens": 4}}})
    assert (answer.text, answer.usage.input_tokens, answer.usage.cached_input_tokens) == ("hello", 6, 4)
    stream = adapter.accumulator()
    stream.feed({"type": "response.output_text.delta", "delta": "hel"})
    stream.feed({"type": "response.output_text.delta", "delta": "lo"})
    assert not stream.finished
    stream.feed({"type": "response.completed", "response": {"status": "completed", "output": [],
                                                             "usage": {"input_tokens": 3, "output_tokens": 1}}})
    assert stream.finished and stream.answer().text == "hello"
    with pytest.raises(StreamError):
        adapter.accumulator().feed({"type": "response.failed", "response": {"error": {"message": "boom"}}})
    with pytest.raises(BadResponse):  # cut by the token limit before any text: an error, never ""
        adapter.parse({"object": "response", "status": "incomplete", "output": []})


def test_default_max_tokens_reaches_an_anthropic_backend(gateway, llm_server: LLMServer) -> None:
    client(gateway).responses.create(model="writer", input="a long patch, please")
    assert llm_server.requests[-1].body["max_tokens"] == 32000  # Codex sends no max_output_tokens


def test_stored_responses_survive_a_restart_and_stay_bounded(tmp_path, llm_server: LLMServer) -> None:
    config = base_config(llm_server) + "\n[serve]\nmax_stored = 2\n"
    first = Gateway(tmp_path, config).start()
    try:
        oa = client(first)
        ids = [oa.responses.create(model="coder", input=f"turn {i}").id for i in range(3)]
        with pytest.raises(openai.NotFoundError):
            oa.responses.retrieve(ids[0])  # the oldest went first
    finally:
        first.stop()
    assert (tmp_path / ".muxc" / "state" / "serve-responses.db").exists()
    second = Gateway(tmp_path, config).start()
    try:
        oa = client(second)
        assert oa.responses.retrieve(ids[2]).output_text == "echo: turn 2"
        oa.responses.create(model="writer", input="and now?", previous_response_id=ids[2])
        assert [m["content"] for m in llm_server.requests[-1].body["messages"]] == [
            "turn 2", "echo: turn 2", "and now?"]
        oa.responses.delete(ids[2])
        with pytest.raises(openai.NotFoundError):
            oa.responses.retrieve(ids[2])
    finally:
        for sdk in second.clients + first.clients:
            sdk.close()
        second.stop()


@pytest.mark.parametrize("stream", [True, False])
def test_a_build_backend_speaks_responses(tmp_path, llm_server: LLMServer, stream: bool) -> None:
    from muxc.backends.base import Cancel
    from muxc.backends.registry import create_backend
    from muxc.config.schema import BackendConfig

    config = BackendConfig(name="rb", protocol="responses", base_url=llm_server.openai_url, model="m1",
                           stream=stream, api_key="sk-build-key", params={"max_tokens": 30})
    backend = create_backend(config, project_root=tmp_path, environ={})
    try:
        llm_server.script(Reply(text="built answer here"))
        completion = backend.complete(CompletionRequest("the prompt", system="sys"), Cancel())
    finally:
        backend.close()
    assert completion.text == "built answer here" and completion.usage.output_tokens == 3
    sent = llm_server.completions[-1]
    assert sent.path == "/v1/responses" and sent.api_key == "sk-build-key" and sent.stream is stream
    assert sent.body["instructions"] == "sys" and sent.body["max_output_tokens"] == 30


def test_what_only_a_responses_backend_can_take_reaches_it(gateway, llm_server: LLMServer) -> None:
    tools = [{"type": "computer_use_preview", "display_width": 800, "display_height": 600, "environment": "linux"}]
    client(gateway).responses.create(model="rs", input="click it", tools=tools)
    assert llm_server.requests[-1].body["tools"] == tools  # passed through, not refused
    with pytest.raises(openai.BadRequestError) as bad:  # the same request for a chat backend: a 400 naming it
        client(gateway).responses.create(model="coder", input="click it", tools=tools)
    assert bad.value.body["param"] == "tools[0].type"
