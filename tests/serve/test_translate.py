"""The translation tables, as pure functions: what a client sends and what the other protocol gets."""

from __future__ import annotations

import json

import pytest

from muxc.serve import streams
from muxc.serve.translate import (
    BadRequest,
    Untranslatable,
    anthropic_to_openai_request,
    anthropic_to_openai_response,
    openai_to_anthropic_request,
    openai_to_anthropic_response,
)

PNG = "iVBORw0KGgo="


def test_images_and_multi_part_content_both_ways() -> None:
    anthropic = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}]}]}
    openai = anthropic_to_openai_request(anthropic)
    assert openai["messages"][0]["content"] == [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}]
    back = openai_to_anthropic_request({"model": "m", **openai})
    assert back["messages"] == anthropic["messages"]


def test_system_prompts_top_level_and_mid_conversation() -> None:
    body = {"messages": [{"role": "system", "content": "rules"}, {"role": "user", "content": "a"},
                         {"role": "assistant", "content": "b"}, {"role": "developer", "content": "more rules"},
                         {"role": "user", "content": "c"}]}
    out = openai_to_anthropic_request(body)
    assert out["system"] == [{"type": "text", "text": "rules"}]
    # a later system message stays where it was said: at the head of the next user turn
    assert out["messages"] == [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                               {"role": "user", "content": [{"type": "text", "text": "more rules"},
                                                            {"type": "text", "text": "c"}]}]
    assert out["max_tokens"] == 4096  # Anthropic requires one
    assert anthropic_to_openai_request({"system": [{"type": "text", "text": "x"}, {"type": "text", "text": "y"}],
                                        "messages": []})["messages"] == [{"role": "system", "content": "x\n\ny"}]


def test_a_late_system_message_after_tool_results_follows_them() -> None:
    body = {"messages": [{"role": "user", "content": "a"},
                         {"role": "assistant", "tool_calls": [{"id": "t1", "type": "function",
                                                               "function": {"name": "f", "arguments": "{}"}}]},
                         {"role": "tool", "tool_call_id": "t1", "content": "42"},
                         {"role": "system", "content": [{"type": "text", "text": "be brief"}]},
                         {"role": "user", "content": "and?"}]}
    last = openai_to_anthropic_request(body)["messages"][-1]
    assert last["role"] == "user"
    assert [block["type"] for block in last["content"]] == ["tool_result", "text", "text"]
    assert [block.get("text") for block in last["content"][1:]] == ["be brief", "and?"]


def test_parallel_tool_results_share_one_user_turn() -> None:
    body = {"messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
            {"id": "b", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}]},
        {"role": "tool", "tool_call_id": "a", "content": "1"}, {"role": "tool", "tool_call_id": "b", "content": "2"}]}
    out = openai_to_anthropic_request(body)["messages"]
    assert out[1]["content"] == [{"type": "tool_use", "id": "a", "name": "f", "input": {}},
                                 {"type": "tool_use", "id": "b", "name": "f", "input": {"x": 1}}]
    assert out[2] == {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a", "content": "1"},
                                                  {"type": "tool_result", "tool_use_id": "b", "content": "2"}]}


@pytest.mark.parametrize(("body", "field"), [
    ({"messages": [], "thinking": {"type": "enabled", "budget_tokens": 100}}, "thinking"),
    ({"messages": [{"role": "assistant", "content": [{"type": "thinking", "thinking": "x"}]}]},
     "messages[0].content[0].type"),
    ({"messages": [], "tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools[0].type"),
])
def test_what_openai_cannot_express_is_named(body: dict, field: str) -> None:
    with pytest.raises(Untranslatable) as problem:
        anthropic_to_openai_request(body)
    assert problem.value.field == field


@pytest.mark.parametrize(("body", "field"), [
    ({"messages": [], "n": 2}, "n"), ({"messages": [], "logprobs": True}, "logprobs"),
    ({"messages": [], "response_format": {"type": "json_object"}}, "response_format"),
    ({"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]}, "messages[0].content[0].type"),
])
def test_what_anthropic_cannot_express_is_named(body: dict, field: str) -> None:
    with pytest.raises(Untranslatable) as problem:
        openai_to_anthropic_request(body)
    assert problem.value.field == field


def test_wrong_types_name_the_field() -> None:
    with pytest.raises(BadRequest, match=r"messages\[0\]\.content: must be a list, not a number"):
        anthropic_to_openai_request({"messages": [{"role": "user", "content": 5}]})
    with pytest.raises(BadRequest, match=r"tool_calls\[0\]\.function\.arguments: is not valid JSON"):
        openai_to_anthropic_request({"messages": [{"role": "assistant", "tool_calls": [
            {"id": "a", "function": {"name": "f", "arguments": "{oops"}}]}]})


@pytest.mark.parametrize(("openai", "anthropic"), [("stop", "end_turn"), ("length", "max_tokens"),
                                                   ("tool_calls", "tool_use")])
def test_stop_reasons_map_both_ways(openai: str, anthropic: str) -> None:
    doc = {"id": "1", "choices": [{"message": {"content": "x"}, "finish_reason": openai}]}
    assert openai_to_anthropic_response(doc, "m")["stop_reason"] == anthropic
    message = {"id": "1", "content": [{"type": "text", "text": "x"}], "stop_reason": anthropic}
    assert anthropic_to_openai_response(message, "m")["choices"][0]["finish_reason"] == openai


def test_usage_with_cache_tokens_both_ways() -> None:
    doc = {"choices": [{"message": {"content": "x"}, "finish_reason": "stop"}],
           "usage": {"prompt_tokens": 100, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 60}}}
    assert openai_to_anthropic_response(doc, "m")["usage"] == {
        "input_tokens": 40, "output_tokens": 5, "cache_read_input_tokens": 60, "cache_creation_input_tokens": 0}
    message = {"content": [], "usage": {"input_tokens": 40, "output_tokens": 5, "cache_read_input_tokens": 60,
                                        "cache_creation_input_tokens": 10}}
    assert anthropic_to_openai_response(message, "m")["usage"] == {
        "prompt_tokens": 110, "completion_tokens": 5, "total_tokens": 115, "prompt_tokens_details": {"cached_tokens": 60}}


def _events(raw: bytes) -> list[tuple[str | None, dict]]:
    out = []
    for block in raw.decode().split("\n\n"):
        if not block.strip():
            continue
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        out.append((lines.get("event"), json.loads(lines["data"]) if lines["data"] != "[DONE]" else "[DONE]"))
    return out


def test_an_anthropic_stream_becomes_openai_chunks_with_tool_deltas_and_usage() -> None:
    convert = streams.AnthropicToOpenAI("m", include_usage=True)
    upstream = [
        {"type": "message_start", "message": {"id": "msg_1", "usage": {"input_tokens": 7, "output_tokens": 0}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "tu", "name": "f"}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"a":'}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "1}"}},
        {"type": "content_block_stop", "index": 1},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}},
        {"type": "message_stop"}]
    raw = b"".join(convert.feed(e["type"], json.dumps(e)) for e in upstream) + convert.end(True)
    chunks = [data for _, data in _events(raw)]
    assert chunks[-1] == "[DONE]"
    deltas = [c["choices"][0]["delta"] for c in chunks[:-1] if c["choices"]]
    assert deltas[1] == {"content": "Hi"}
    assert deltas[2]["tool_calls"][0] == {"index": 0, "id": "tu", "type": "function",
                                          "function": {"name": "f", "arguments": ""}}
    assert "".join(d["tool_calls"][0]["function"]["arguments"] for d in deltas[3:5]) == '{"a":1}'
    assert [c["choices"][0]["finish_reason"] for c in chunks[:-1] if c["choices"]][-1] == "tool_calls"
    assert chunks[-2]["usage"] == {"prompt_tokens": 7, "completion_tokens": 9, "total_tokens": 16,
                                   "prompt_tokens_details": {"cached_tokens": 0}}
    assert not convert.failed


def test_an_openai_stream_cut_short_ends_with_an_anthropic_error_event() -> None:
    convert = streams.OpenAIToAnthropic("m")
    raw = convert.feed(None, json.dumps({"id": "c", "choices": [{"index": 0, "delta": {"content": "Hel"}}]}))
    raw += convert.end(True)  # no finish_reason, no [DONE]
    names = [name for name, _ in _events(raw)]
    assert names == ["message_start", "content_block_start", "content_block_delta", "error"]
    assert convert.failed
