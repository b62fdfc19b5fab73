"""The OpenAI Responses API on ``muxc serve``: the official openai SDK's ``responses.create`` (streamed
and not) against a real gateway, on a Chat Completions backend and on an Anthropic backend; function,
custom (Codex's apply_patch) and namespace tools; parallel calls; images in tool output; stored
responses and ``previous_response_id``; bad input; the WebSocket refusal."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.serve.conftest import weather_call_events
from tests.support.llm_server import LLMServer, Reply

WEATHER = {"type": "function", "name": "get_weather", "description": "weather",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
APPLY_PATCH = {"type": "custom", "name": "apply_patch", "description": "Apply a patch",
               "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"}}
PATCH = "*** Begin Patch\n*** Add File: a.txt\n+hello\n*** End Patch\n"


def client(gateway) -> openai.OpenAI:
    return gateway.keep(openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0))


def chat_tool_doc(*calls: tuple[str, str, dict]) -> dict:
    tool_calls = [{"id": cid, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
                  for cid, name, args in calls]
    return {"id": "x", "object": "chat.completion", "model": "m", "choices": [{
        "index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": None,
                                                               "tool_calls": tool_calls}}],
            "usage": {"prompt_tokens": 30, "completion_tokens": 9, "prompt_tokens_details": {"cached_tokens": 20}}}


def anthropic_tool_events(tool_id: str, name: str, partial_json: list[str], text: str = "") -> list[str]:
    def event(kind: str, data: dict) -> str:
        return f"event: {kind}\ndata: " + json.dumps({"type": kind, **data})
    events = [event("message_start", {"message": {"id": "msg_1", "type": "message", "role": "assistant",
                                                  "content": [], "usage": {"input_tokens": 12, "output_tokens": 1}}})]
    index = 0
    if text:
        events += [event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
                   event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": text}}),
                   event("content_block_stop", {"index": 0})]
        index = 1
    events += [event("content_block_start", {"index": index, "content_block": {
        "type": "tool_use", "id": tool_id, "name": name, "input": {}}})]
    events += [event("content_block_delta", {"index": index, "delta": {"type": "input_json_delta",
                                                                        "partial_json": p}}) for p in partial_json]
    events += [event("content_block_stop", {"index": index}),
               event("message_delta", {"delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 20}}),
               event("message_stop", {})]
    return events


# -- text, both backends, streamed and not ----------------------------------------------------------


def test_text_on_a_chat_backend(gateway, llm_server: LLMServer) -> None:
    response = client(gateway).responses.create(model="coder", instructions="be brief", input="hello there",
                                                max_output_tokens=50, temperature=0.2)
    assert response.output_text == "echo: hello there"
    assert response.status == "completed" and response.id.startswith("resp_") and response.model == "coder"
    assert response.usage.input_tokens == 2 and response.usage.output_tokens == 3
    sent = llm_server.requests[-1]
    assert sent.protocol == "openai" and sent.body["model"] == "upstream-gpt"
    assert sent.body["messages"] == [{"role": "system", "content": "be brief"},
                                     {"role": "user", "content": "hello there"}]
    assert sent.body["max_tokens"] == 50 and sent.body["temperature"] == 0.2


def test_stream_on_a_chat_backend_has_openais_event_order(gateway, llm_server: LLMServer) -> None:
    llm_server.script(Reply(text="one two three"))
    events = list(client(gateway).responses.create(model="coder", input="count", stream=True))
    kinds = [e.type for e in events]
    assert kinds[:5] == ["response.created", "response.in_progress", "response.output_item.added",
                         "response.content_part.added", "response.output_text.delta"]
    assert kinds[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                          "response.completed"]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "one two three"
    final = events[-1].response
    assert final.output_text == "one two three" and final.usage.output_tokens == 3


def test_text_on_an_anthropic_backend_routed_by_glob(gateway, llm_server: LLMServer) -> None:
    response = client(gateway).responses.create(
        model="gpt-5-codex", input=[{"role": "developer", "content": "sys"},
                                    {"role": "user", "content": [{"type": "input_text", "text": "hi you"}]}])
    assert response.output_text == "echo: hi you"
    sent = llm_server.requests[-1]
    assert sent.protocol == "anthropic" and sent.api_key == "sk-ant-upstream-secret"
    assert sent.body["system"] == [{"type": "text", "text": "sys"}]
    assert sent.body["max_tokens"] == 4096  # Anthropic needs one; the client sent none


def test_stream_on_an_anthropic_backend(gateway, llm_server: LLMServer) -> None:
    llm_server.script(Reply(text="red green"))
    with client(gateway).responses.stream(model="writer", input="colours") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert final.output_text == "red green" and final.status == "completed"
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert kinds.count("response.output_item.done") == 1
    assert llm_server.requests[-1].stream


def test_max_tokens_makes_the_response_incomplete(gateway, llm_server: LLMServer) -> None:
    llm_server.script(Reply(text="cut sh", finish="length"))
    response = client(gateway).responses.create(model="coder", input="long", max_output_tokens=2)
    assert response.status == "incomplete" and response.incomplete_details.reason == "max_output_tokens"


# -- tools ----------------------------------------------------------------------------------------


def test_parallel_function_calls_round_trip_on_a_chat_backend(gateway, llm_server: LLMServer) -> None:
    llm_server.script(Reply(json=chat_tool_doc(("call_1", "get_weather", {"city": "Oslo"}),
                                               ("call_2", "get_weather", {"city": "Rome"}))))
    oa = client(gateway)
    response = oa.responses.create(model="coder", input="weather in Oslo and Rome?", tools=[WEATHER],
                                   tool_choice={"type": "function", "name": "get_weather"})
    calls = [(item.type, item.call_id, item.name, json.loads(item.arguments)) for item in response.output]
    assert calls == [("function_call", "call_1", "get_weather", {"city": "Oslo"}),
                     ("function_call", "call_2", "get_weather", {"city": "Rome"})]
    assert response.usage.input_tokens_details.cached_tokens == 20
    sent = llm_server.requests[-1].body
    assert sent["tools"] == [{"type": "function", "function": {
        "name": "get_weather", "description": "weather", "parameters": WEATHER["parameters"]}}]
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    oa.responses.create(model="coder", tools=[WEATHER], store=False, input=[
        {"role": "user", "content": "weather?"}, *[item.model_dump(exclude_none=True) for item in response.output],
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        {"type": "function_call_output", "call_id": "call_2", "output": "rain"}])
    turns = llm_server.requests[-1].body["messages"]
    assert [m["role"] for m in turns] == ["user", "assistant", "tool", "tool"]
    assert [c["id"] for c in turns[1]["tool_calls"]] == ["call_1", "call_2"]  # one message, parallel calls
    assert turns[2:] == [{"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
                         {"role": "tool", "tool_call_id": "call_2", "content": "rain"}]


def test_streamed_function_call_from_a_chat_backend(gateway, llm_server: LLMServer) -> None:
    llm_server.script(Reply(stream=True, events=weather_call_events()))
    events = list(client(gateway).responses.create(model="coder", input="weather?", tools=[WEATHER], stream=True))
    kinds = [e.type for e in events]
    assert kinds.count("response.output_item.added") == kinds.count("response.output_item.done") == 2
    assert [e.delta for e in events if e.type == "response.function_call_arguments.delta"] == ['{"city": ', '"Oslo"}']
    done = [e.item for e in events if e.type == "response.output_item.done"]
    assert done[0].type == "message" and done[0].content[0].text == "Let me check."
    assert (done[1].type, done[1].call_id, done[1].arguments) == ("function_call", "call_9", '{"city": "Oslo"}')
    assert kinds[-1] == "response.completed" and events[-1].response.usage.output_tokens == 7


def test_custom_apply_patch_streams_back_as_a_custom_tool_call_from_anthropic(gateway, llm_server) -> None:
    arguments = json.dumps({"input": PATCH})
    llm_server.script(Reply(stream=True, events=anthropic_tool_events(
        "toolu_1", "apply_patch", [arguments[:20], arguments[20:]], text="Patching.")))
    events = list(client(gateway).responses.create(model="writer", input="add a.txt", tools=[APPLY_PATCH],
                                                   stream=True))
    done = [e.item for e in events if e.type == "response.output_item.done"]
    assert [item.type for item in done] == ["message", "custom_tool_call"]
    assert (done[1].call_id, done[1].name, done[1].input) == ("toolu_1", "apply_patch", PATCH)
    assert events[-1].type == "response.completed"
    tool = llm_server.requests[-1].body["tools"][0]
    assert tool["name"] == "apply_patch" and tool["input_schema"]["required"] == ["input"]
    assert "start: /.+/" in tool["description"]  # the grammar travels in the description
    # the next turn: the custom call and its output go back as a tool_use and a tool_result
    client(gateway).responses.create(model="writer", tools=[APPLY_PATCH], store=False, input=[
        {"role": "user", "content": "add a.txt"}, done[1].model_dump(exclude_none=True),
        {"type": "custom_tool_call_output", "call_id": "toolu_1", "output": "Done!"}])
    turns = llm_server.requests[-1].body["messages"]
    assert turns[1]["content"] == [{"type": "tool_use", "id": "toolu_1", "name": "apply_patch",
                                    "input": {"input": PATCH}}]
    assert turns[2]["content"] == [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "Done!"}]


def test_namespace_tools_are_flattened_and_restored(gateway, llm_server: LLMServer) -> None:
    llm_server.script(Reply(json=chat_tool_doc(("call_5", "mcp_docs__search", {"q": "x"}))))
    namespace = {"type": "namespace", "name": "mcp_docs", "description": "docs server",
                 "tools": [{"type": "function", "name": "search", "parameters": {"type": "object"}}]}
    raw = httpx.post(gateway.url + "/v1/responses", json={
        "model": "coder", "input": "find x", "tools": [namespace, {"type": "web_search"}]}, timeout=10).json()
    assert raw["output"][0]["namespace"] == "mcp_docs" and raw["output"][0]["name"] == "search"
    assert [t["function"]["name"] for t in llm_server.requests[-1].body["tools"]] == ["mcp_docs__search"]
    httpx.get(gateway.url + "/health", timeout=5)  # served after the request above wrote its log line
    log = [line for line in gateway.stderr().splitlines() if "POST /v1/responses" in line][-1]
    assert "hosted tool web_search left out" in log


def test_images_in_tool_output_follow_the_tool_results(gateway, llm_server: LLMServer) -> None:
    image = "data:image/png;base64,iVBORw0KGgo="
    items = [{"role": "user", "content": "look"},
             {"type": "function_call", "call_id": "c1", "name": "shot", "arguments": "{}"},
             {"type": "function_call_output", "call_id": "c1", "output": [
                 {"type": "input_text", "text": "screenshot:"}, {"type": "input_image", "image_url": image}]}]
    tools = [{"type": "function", "name": "shot", "parameters": {"type": "object"}}]
    client(gateway).responses.create(model="coder", input=items, tools=tools, store=False)
    turns = llm_server.requests[-1].body["messages"]
    assert [m["role"] for m in turns] == ["user", "assistant", "tool", "user"]
    assert turns[3]["content"] == [{"type": "image_url", "image_url": {"url": image}}]
    client(gateway).responses.create(model="writer", input=items, tools=tools, store=False)
    last = llm_server.requests[-1].body["messages"][-1]["content"]
    assert [block["type"] for block in last] == ["tool_result", "image"]  # one user turn, nothing dropped
    assert last[1]["source"] == {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}


# -- stored responses -------------------------------------------------------------------------------


def test_previous_response_id_continues_on_another_backend(gateway, llm_server: LLMServer) -> None:
    oa = client(gateway)
    first = oa.responses.create(model="coder", input="my name is Ada")
    assert oa.responses.retrieve(first.id).output_text == "echo: my name is Ada"
    oa.responses.create(model="writer", input="what is my name?", previous_response_id=first.id)
    turns = llm_server.requests[-1].body["messages"]
    assert turns == [{"role": "user", "content": "my name is Ada"},
                     {"role": "assistant", "content": "echo: my name is Ada"},
                     {"role": "user", "content": "what is my name?"}]
    second = oa.responses.create(model="coder", input="again", previous_response_id=first.id)
    listed = [item.type for item in oa.responses.input_items.list(second.id)]
    assert listed == ["message", "message", "message"]  # newest first: this turn, the answer, the first turn
    assert oa.responses.input_items.list(second.id).data[0].content[0].text == "again"
    unstored = oa.responses.create(model="coder", input="forget me", store=False)
    with pytest.raises(openai.NotFoundError):
        oa.responses.retrieve(unstored.id)
    with pytest.raises(openai.NotFoundError) as missing:
        oa.responses.create(model="coder", input="x", previous_response_id="resp_nope")
    assert "resp_nope" in str(missing.value)


# -- failures and bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "named"), [
    ({"input": [{"type": "message", "role": "user", "content": "x"}, {"type": "telepathy"}]}, "input[1].type"),
    ({"input": [{"type": "function_call_output", "call_id": "nope", "output": "x"}]}, "input[0].call_id"),
    ({"input": "x", "tools": [{"type": "computer_use_preview"}]}, "tools[0].type"),
    ({"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]}, "input[0].content[0].type"),
    ({"input": "x", "conversation": "conv_1"}, "conversation"),
    ({"input": 5}, "input"),
    ({"input": "x", "metadata": 5}, "metadata"),
    ({"input": "x", "parallel_tool_calls": "yes"}, "parallel_tool_calls"),
])
def test_bad_input_is_a_400_naming_the_field(gateway, body: dict, named: str) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        client(gateway).responses.create(model="coder", **body)
    assert bad.value.body["param"] == named and named in bad.value.body["message"]


def test_json_schema_on_an_anthropic_backend_comes_back_as_json_text(gateway, llm_server: LLMServer) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    fmt = {"type": "json_schema", "name": "place", "schema": schema, "strict": True}
    answer = {"id": "m", "type": "message", "role": "assistant", "stop_reason": "tool_use",
              "usage": {"input_tokens": 3, "output_tokens": 4},
              "content": [{"type": "tool_use", "id": "toolu_j", "name": "muxc_json_answer", "input": {"city": "Oslo"}}]}
    llm_server.script(Reply(json=answer))
    response = client(gateway).responses.create(model="writer", input="where?", text={"format": fmt})
    assert json.loads(response.output_text) == {"city": "Oslo"} and response.status == "completed"
    sent = llm_server.requests[-1].body
    assert sent["tools"] == [{"name": "muxc_json_answer", "input_schema": schema, "description": sent["tools"][0][
        "description"]}]
    assert sent["tool_choice"] == {"type": "tool", "name": "muxc_json_answer"}
    arguments = json.dumps({"city": "Rome"})
    llm_server.script(Reply(stream=True, events=anthropic_tool_events("toolu_k", "muxc_json_answer",
                                                                      [arguments[:5], arguments[5:]])))
    events = list(client(gateway).responses.create(model="writer", input="where?", text={"format": fmt},
                                                   stream=True, store=False))
    assert [e.item.type for e in events if e.type == "response.output_item.done"] == ["message"]
    assert json.loads(events[-1].response.output_text) == {"city": "Rome"}


def test_a_truncated_stream_fails_and_a_rate_limit_keeps_retry_after(fresh_gateway, llm_server) -> None:
    gateway = fresh_gateway  # the 429 parks the backend's credential
    llm_server.script(Reply.no_terminal_event("half an answer"))
    events = list(client(gateway).responses.create(model="coder", input="x", stream=True))
    assert events[-1].type == "response.failed" and events[-1].response.status == "failed"
    added = [e for e in events if e.type == "response.output_item.added"]
    assert len(added) == len([e for e in events if e.type == "response.output_item.done"]) == 1
    llm_server.script(*[Reply.rate_limited(retry_after="30")] * 3)
    with pytest.raises(openai.RateLimitError) as limited:
        client(gateway).responses.create(model="coder", input="x")
    assert limited.value.response.headers["retry-after"] == "30"


def test_a_websocket_attempt_is_refused_at_once(gateway) -> None:
    refused = httpx.get(gateway.url + "/v1/responses", timeout=5, headers={
        "connection": "Upgrade", "upgrade": "websocket", "sec-websocket-version": "13",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert refused.status_code == 426 and "POST /v1/responses" in refused.json()["error"]["message"]
    assert httpx.get(gateway.url + "/health", timeout=5).status_code == 200  # and the server goes on


def test_late_developer_messages_fold_into_the_next_user_turn_on_anthropic(gateway, llm_server) -> None:
    client(gateway).responses.create(model="writer", store=False, input=[
        {"role": "developer", "content": "rules"}, {"role": "user", "content": "u1"},
        {"role": "assistant", "content": [{"type": "output_text", "text": "a1"}]},
        {"role": "developer", "content": "new context"}, {"role": "user", "content": "u2"}])
    sent = llm_server.requests[-1].body
    assert sent["system"] == [{"type": "text", "text": "rules"}]
    assert sent["messages"] == [{"role": "user", "content": "u1"}, {"role": "assistant", "content": "a1"},
                                {"role": "user", "content": [{"type": "text", "text": "new context"},
                                                             {"type": "text", "text": "u2"}]}]
    with pytest.raises(openai.BadRequestError) as bad:  # the Anthropic side's complaint names the Responses item
        client(gateway).responses.create(model="writer", input=[
            {"role": "user", "content": "u1"}, {"role": "developer", "content": "late"},
            {"role": "user", "content": [{"type": "input_image", "image_url": "data:image/png,not-base64"}]}])
    assert bad.value.body["param"] == "input[2].content[0].image_url.url"


def test_a_response_is_counted_and_logged(fresh_gateway, llm_server: LLMServer) -> None:
    gateway = fresh_gateway
    client(gateway).responses.create(model="coder", input="logged turn")
    metrics = httpx.get(gateway.url + "/metrics", timeout=5).text
    assert 'llmux_requests_total{backend="oa",model="coder",status="200"} 1.0' in metrics
    gateway.stop()  # flushes the LLM log
    import subprocess
    import sys

    shown = subprocess.run([sys.executable, "-m", "muxc", "--output", "json", "logs"], env=gateway.env,
                           capture_output=True, text=True, cwd=gateway.dir)
    row = json.loads(shown.stdout)[0]
    assert row["workflow"] == "(serve)" and row["step"] == "POST /v1/responses"
    assert row["prompt"] == "logged turn" and row["response"] == "echo: logged turn"


def thinking_then_tool_events() -> list[str]:
    def event(kind: str, data: dict) -> str:
        return f"event: {kind}\ndata: " + json.dumps({"type": kind, **data})
    return [event("message_start", {"message": {"id": "msg_2", "type": "message", "role": "assistant", "content": [],
                                                "usage": {"input_tokens": 5, "output_tokens": 1}}}),
            event("content_block_start", {"index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
            event("content_block_delta", {"index": 0, "delta": {"type": "thinking_delta", "thinking": "Check "}}),
            event("content_block_delta", {"index": 0, "delta": {"type": "thinking_delta", "thinking": "Oslo."}}),
            event("content_block_delta", {"index": 0, "delta": {"type": "signature_delta", "signature": "sig-abc"}}),
            event("content_block_stop", {"index": 0}),
            event("content_block_start", {"index": 1, "content_block": {
                "type": "tool_use", "id": "toolu_w", "name": "get_weather", "input": {}}}),
            event("content_block_delta", {"index": 1, "delta": {"type": "input_json_delta",
                                                                 "partial_json": '{"city": "Oslo"}'}}),
            event("content_block_stop", {"index": 1}),
            event("message_delta", {"delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}}),
            event("message_stop", {})]


def test_thinking_round_trips_as_reasoning_items_on_anthropic(gateway, llm_server: LLMServer) -> None:
    llm_server.script(Reply(stream=True, events=thinking_then_tool_events()))
    oa = client(gateway)
    events = list(oa.responses.create(model="writer", input="weather in Oslo?", tools=[WEATHER], stream=True,
                                      include=["reasoning.encrypted_content"], store=False))
    done = [e.item for e in events if e.type == "response.output_item.done"]
    assert [item.type for item in done] == ["reasoning", "function_call"]
    assert done[0].summary[0].text == "Check Oslo." and done[0].encrypted_content == "sig-abc"
    oa.responses.create(model="writer", tools=[WEATHER], store=False, input=[
        {"role": "user", "content": "weather in Oslo?"}, *[item.model_dump(exclude_none=True) for item in done],
        {"type": "function_call_output", "call_id": "toolu_w", "output": "sunny"}])
    assistant = llm_server.requests[-1].body["messages"][1]
    assert assistant["content"][0] == {"type": "thinking", "thinking": "Check Oslo.", "signature": "sig-abc"}
    assert assistant["content"][1]["type"] == "tool_use"
    # a redacted block comes back as it was; a chat backend cannot take reasoning back: left out, noted
    llm_server.script(Reply(json={"id": "m", "type": "message", "role": "assistant", "stop_reason": "end_turn",
                                  "content": [{"type": "redacted_thinking", "data": "opaque"},
                                              {"type": "text", "text": "hi"}],
                                  "usage": {"input_tokens": 1, "output_tokens": 1}}))
    answer = oa.responses.create(model="writer", input="hi", store=False)
    assert [item.type for item in answer.output] == ["reasoning", "message"]
    oa.responses.create(model="writer", store=False, input=[
        {"role": "user", "content": "hi"}, *[item.model_dump(exclude_none=True) for item in answer.output],
        {"role": "user", "content": "again"}])
    assert llm_server.requests[-1].body["messages"][1]["content"][0] == {"type": "redacted_thinking",
                                                                         "data": "opaque"}
    oa.responses.create(model="coder", store=False, input=[
        {"role": "user", "content": "hi"}, *[item.model_dump(exclude_none=True) for item in answer.output],
        {"role": "user", "content": "again"}])
    assert "_thinking" not in json.dumps(llm_server.requests[-1].body)
    httpx.get(gateway.url + "/health", timeout=5)  # served after the request above wrote its log line
    log = [line for line in gateway.stderr().splitlines() if "POST /v1/responses" in line][-1]
    assert "reasoning items left out" in log


def test_a_vanishing_client_cancels_its_response_and_others_are_served(gateway, llm_server: LLMServer) -> None:
    import time

    llm_server.script(Reply(text="a b c d e f", stall_after=3, stream=True))
    with httpx.stream("POST", gateway.url + "/v1/responses", timeout=30, json={
            "model": "coder", "stream": True, "input": "x"}) as response:
        next(response.iter_bytes())  # the first events arrived; now the client goes away
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "POST /v1/responses model=coder backend=oa status=499" not in gateway.stderr():
        time.sleep(0.05)  # polling an observable end state, not ordering threads
    assert "POST /v1/responses model=coder backend=oa status=499" in gateway.stderr()
    assert client(gateway).responses.create(model="coder", input="still here").output_text == "echo: still here"


def test_reasoning_effort_asks_anthropic_for_thinking_within_the_output_limit(gateway, llm_server) -> None:
    oa = client(gateway)
    oa.responses.create(model="writer", input="think", reasoning={"effort": "high"}, max_output_tokens=40000,
                        store=False)
    assert llm_server.requests[-1].body["thinking"] == {"type": "enabled", "budget_tokens": 24576}
    oa.responses.create(model="writer", input="think", reasoning={"effort": "high"}, store=False)
    assert llm_server.requests[-1].body["thinking"] == {"type": "enabled", "budget_tokens": 3072}  # 4096 - 1024
    oa.responses.create(model="writer", input="think", reasoning={"effort": "low"}, temperature=0.2, store=False)
    assert "thinking" not in llm_server.requests[-1].body
    httpx.get(gateway.url + "/health", timeout=5)  # served after the request above wrote its log line
    log = [line for line in gateway.stderr().splitlines() if "POST /v1/responses" in line][-1]
    assert "reasoning.effort 'low' not sent: temperature is set" in log
