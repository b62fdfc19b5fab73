"""Exact translation between OpenAI chat completions and Anthropic messages: requests both ways
and whole answers both ways (streams are in ``streams.py``).

Pure functions over parsed JSON. What the target protocol cannot express is an ``Untranslatable``
naming the field (``messages[2].content[0].type``), which the face turns into a 400: content is
never dropped silently. Hints that change no content (``cache_control``, OpenAI's ``store``) are
not carried.

Decisions where the protocols differ:
- OpenAI ``system``/``developer`` messages before the conversation become Anthropic ``system`` blocks,
  in order; later ones (Anthropic has no mid-conversation system turn, and moving them to the top
  would change what they apply to) are folded into the next user turn as leading text blocks, after
  any tool results. Anthropic ``system`` becomes one leading system message.
- Anthropic ``tool_result`` blocks become ``tool`` messages placed before the rest of the user turn;
  ``is_error`` is carried as the text prefix ``Error: `` (chat completions has no flag for it).
- OpenAI requests without ``max_tokens`` get ``DEFAULT_MAX_TOKENS`` (Anthropic requires one).
- Usage: OpenAI ``prompt_tokens`` includes cached tokens, Anthropic ``input_tokens`` does not;
  cache reads map to ``prompt_tokens_details.cached_tokens`` and back.
"""

from __future__ import annotations

import json
import time
from typing import Any

DEFAULT_MAX_TOKENS = 4096

A2O_STOP = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls",
            "refusal": "content_filter", "pause_turn": "stop", "model_context_window_exceeded": "length"}
O2A_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "function_call": "tool_use",
            "content_filter": "refusal"}


class Untranslatable(ValueError):
    """A request field the target protocol cannot express (a 400 naming ``field``)."""

    def __init__(self, field: str, why: str) -> None:
        super().__init__(f"{field}: {why}")
        self.field = field


class BadRequest(ValueError):
    """A request that is wrong in itself (a 400 naming ``field``)."""

    def __init__(self, field: str, why: str) -> None:
        super().__init__(f"{field}: {why}")
        self.field = field


def _type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def expect(value: Any, kind: type | tuple[type, ...], field: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        wanted = {str: "a string", list: "a list", dict: "an object", int: "an integer"}.get(kind, "a number")  # type: ignore[call-overload]
        raise BadRequest(field, f"must be {wanted}, not {_type(value)}")
    return value


# -- Anthropic request -> OpenAI request ------------------------------------------------------------

A2O_SAME = ("temperature", "top_p", "top_k")
A2O_IGNORED = ("metadata", "stream", "cache_control", "model", "context_management")


def anthropic_to_openai_request(body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"messages": []}
    system = body.get("system")
    if system is not None:
        text = _system_text(system)
        if text:
            out["messages"].append({"role": "system", "content": text})
    messages = expect(body.get("messages"), list, "messages")
    for i, message in enumerate(messages):
        out["messages"] += _a2o_message(expect(message, dict, f"messages[{i}]"), f"messages[{i}]")
    for key, value in body.items():
        _a2o_param(key, value, out)
    if body.get("stream"):
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def _a2o_param(key: str, value: Any, out: dict[str, Any]) -> None:
    if key in ("system", "messages") or key in A2O_IGNORED:
        if key == "metadata" and isinstance(value, dict) and isinstance(value.get("user_id"), str):
            out["user"] = value["user_id"]
        return
    if key in A2O_SAME:
        out[key] = value
    elif key == "max_tokens":
        out["max_tokens"] = expect(value, int, "max_tokens")
    elif key == "stop_sequences":
        out["stop"] = expect(value, list, "stop_sequences")
    elif key == "tools":
        out["tools"] = [_a2o_tool(tool, f"tools[{i}]") for i, tool in enumerate(expect(value, list, "tools"))]
    elif key == "tool_choice":
        _a2o_tool_choice(expect(value, dict, "tool_choice"), out)
    elif key == "thinking":
        if isinstance(value, dict) and value.get("type") == "disabled":
            return
        raise Untranslatable("thinking", "extended thinking cannot be requested from an OpenAI chat completions backend")
    else:
        raise Untranslatable(key, "an OpenAI chat completions backend has no equivalent")


def _system_text(system: Any) -> str:
    return joined_text(system, "system", separator="\n\n", refusal="blocks cannot be a system prompt")


def joined_text(content: Any, field: str, *, separator: str = "\n",
                refusal: str = "parts are not allowed here") -> str:
    """A string, or a list of text parts joined: where only text can go (a system prompt, a tool
    result); any other part is refused naming its field, never dropped."""
    if isinstance(content, str):
        return content
    parts = expect(content, list, field)
    texts = []
    for k, part in enumerate(parts):
        part = expect(part, dict, f"{field}[{k}]")
        if part.get("type") != "text":
            raise Untranslatable(f"{field}[{k}].type", f"{part.get('type')!r} {refusal}")
        texts.append(expect(part.get("text"), str, f"{field}[{k}].text"))
    return separator.join(texts)


def _a2o_message(message: dict[str, Any], where: str) -> list[dict[str, Any]]:
    role = message.get("role")
    if role not in ("user", "assistant"):
        raise BadRequest(f"{where}.role", f"must be 'user' or 'assistant', not {role!r}")
    content = message.get("content")
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    blocks = expect(content, list, f"{where}.content")
    if role == "assistant":
        return [_a2o_assistant(blocks, where)]
    tools, parts = [], []
    for j, block in enumerate(blocks):
        field = f"{where}.content[{j}]"
        block = expect(block, dict, field)
        if block.get("type") == "tool_result":
            tools.append(_a2o_tool_result(block, field))
        else:
            parts.append(_a2o_part(block, field))
    return tools + ([{"role": "user", "content": parts}] if parts else [])


def _a2o_part(block: dict[str, Any], field: str) -> dict[str, Any]:
    kind = block.get("type")
    if kind == "text":
        return {"type": "text", "text": expect(block.get("text"), str, f"{field}.text")}
    if kind == "image":
        source = expect(block.get("source"), dict, f"{field}.source")
        if source.get("type") == "base64":
            media = expect(source.get("media_type"), str, f"{field}.source.media_type")
            data = expect(source.get("data"), str, f"{field}.source.data")
            return {"type": "image_url", "image_url": {"url": f"data:{media};base64,{data}"}}
        if source.get("type") == "url":
            return {"type": "image_url", "image_url": {"url": expect(source.get("url"), str, f"{field}.source.url")}}
        raise Untranslatable(f"{field}.source.type", f"image source {source.get('type')!r} has no OpenAI equivalent")
    raise Untranslatable(f"{field}.type", f"{kind!r} content cannot be sent to an OpenAI chat completions backend")


def _a2o_tool_result(block: dict[str, Any], field: str) -> dict[str, Any]:
    tool_id = expect(block.get("tool_use_id"), str, f"{field}.tool_use_id")
    content = block.get("content", "")
    if isinstance(content, list):
        texts = []
        for k, part in enumerate(content):
            part = expect(part, dict, f"{field}.content[{k}]")
            if part.get("type") != "text":
                raise Untranslatable(f"{field}.content[{k}].type",
                                     f"a tool result with {part.get('type')!r} content has no OpenAI equivalent")
            texts.append(expect(part.get("text"), str, f"{field}.content[{k}].text"))
        content = "\n".join(texts)
    content = expect(content, str, f"{field}.content")
    if block.get("is_error"):
        content = "Error: " + content
    return {"role": "tool", "tool_call_id": tool_id, "content": content}


def _a2o_assistant(blocks: list[Any], where: str) -> dict[str, Any]:
    texts, calls = [], []
    for j, block in enumerate(blocks):
        field = f"{where}.content[{j}]"
        block = expect(block, dict, field)
        kind = block.get("type")
        if kind == "text":
            texts.append(expect(block.get("text"), str, f"{field}.text"))
        elif kind == "tool_use":
            calls.append({"id": expect(block.get("id"), str, f"{field}.id"), "type": "function",
                          "function": {"name": expect(block.get("name"), str, f"{field}.name"),
                                       "arguments": json.dumps(block.get("input", {}))}})
        else:
            raise Untranslatable(f"{field}.type", f"{kind!r} blocks cannot be sent to an OpenAI chat completions backend")
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    return message


def _a2o_tool(tool: Any, field: str) -> dict[str, Any]:
    tool = expect(tool, dict, field)
    if tool.get("type") not in (None, "custom"):
        raise Untranslatable(f"{field}.type", f"server tool {tool.get('type')!r} has no OpenAI equivalent")
    function = {"name": expect(tool.get("name"), str, f"{field}.name"),
                "parameters": tool.get("input_schema", {"type": "object"})}
    if tool.get("description") is not None:
        function["description"] = tool["description"]
    return {"type": "function", "function": function}


def _a2o_tool_choice(choice: dict[str, Any], out: dict[str, Any]) -> None:
    kind = choice.get("type")
    mapped = {"auto": "auto", "any": "required", "none": "none"}
    if kind in mapped:
        out["tool_choice"] = mapped[kind]
    elif kind == "tool":
        out["tool_choice"] = {"type": "function", "function": {"name": expect(choice.get("name"), str, "tool_choice.name")}}
    else:
        raise BadRequest("tool_choice.type", f"unknown tool choice {kind!r}")
    if choice.get("disable_parallel_tool_use"):
        out["parallel_tool_calls"] = False


# -- OpenAI request -> Anthropic request ------------------------------------------------------------

O2A_IGNORED = ("model", "stream", "stream_options", "store", "metadata", "service_tier", "user",
               "parallel_tool_calls", "max_tokens", "max_completion_tokens")
O2A_DEFAULT_ONLY = {"n": 1, "presence_penalty": 0, "frequency_penalty": 0, "logprobs": False}


def openai_to_anthropic_request(body: dict[str, Any], default_max_tokens: int = DEFAULT_MAX_TOKENS) -> dict[str, Any]:
    messages = expect(body.get("messages"), list, "messages")
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    late: list[dict[str, Any]] = []  # system messages after the conversation began, for the next user turn
    for i, message in enumerate(messages):
        message = expect(message, dict, f"messages[{i}]")
        if message.get("role") in ("system", "developer") and turns:
            late.append({"type": "text", "text": joined_text(message.get("content"), f"messages[{i}].content")})
            continue
        if late and message.get("role") == "user":
            _append(turns, "user", late)  # after any tool results (Anthropic wants those first), before the text
            late = []
        _o2a_message(message, f"messages[{i}]", system, turns)
    if late:
        _append(turns, "user", late)
    for turn in turns:  # a lone text block is the plain string form, exactly
        content = turn["content"]
        if len(content) == 1 and content[0].get("type") == "text" and set(content[0]) == {"type", "text"}:
            turn["content"] = content[0]["text"]
    out: dict[str, Any] = {"messages": turns}
    if system:
        out["system"] = system
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    out["max_tokens"] = expect(limit, int, "max_tokens") if limit is not None else default_max_tokens
    for key, value in body.items():
        _o2a_param(key, value, out)
    if body.get("parallel_tool_calls") is False:
        out.setdefault("tool_choice", {"type": "auto"})["disable_parallel_tool_use"] = True
    if isinstance(body.get("user"), str):
        out["metadata"] = {"user_id": body["user"]}
    if body.get("stream"):
        out["stream"] = True
    return out


def _o2a_param(key: str, value: Any, out: dict[str, Any]) -> None:
    if key == "messages" or key in O2A_IGNORED or value is None:
        return
    if key in ("temperature", "top_p", "top_k"):
        out[key] = value
    elif key == "stop":
        out["stop_sequences"] = [value] if isinstance(value, str) else expect(value, list, "stop")
    elif key == "tools":
        out["tools"] = [_o2a_tool(tool, f"tools[{i}]") for i, tool in enumerate(expect(value, list, "tools"))]
    elif key == "tool_choice":
        out["tool_choice"] = _o2a_tool_choice(value)
    elif key == "response_format":
        if not (isinstance(value, dict) and value.get("type") == "text"):
            raise Untranslatable("response_format", "an Anthropic messages backend has no JSON mode")
    elif key in O2A_DEFAULT_ONLY:
        if value != O2A_DEFAULT_ONLY[key]:
            raise Untranslatable(key, "an Anthropic messages backend has no equivalent")
    else:
        raise Untranslatable(key, "an Anthropic messages backend has no equivalent")


def _o2a_message(message: dict[str, Any], where: str, system: list[dict[str, Any]],
                 turns: list[dict[str, Any]]) -> None:
    role = message.get("role")
    content = message.get("content")
    if role in ("system", "developer"):
        system.append({"type": "text", "text": joined_text(content, f"{where}.content")})
    elif role == "user":
        _append(turns, "user", _o2a_user(content, f"{where}.content"))
    elif role == "assistant":
        _append(turns, "assistant", _o2a_assistant(message, where))
    elif role == "tool":
        block = {"type": "tool_result", "tool_use_id": expect(message.get("tool_call_id"), str, f"{where}.tool_call_id"),
                 "content": joined_text(content, f"{where}.content")}
        _append(turns, "user", [block])
    else:
        raise (Untranslatable(f"{where}.role", "legacy function messages have no Anthropic equivalent")
               if role == "function" else BadRequest(f"{where}.role", f"unknown role {role!r}"))


def _append(turns: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    """Consecutive turns of one role merge (parallel tool results must share one user turn)."""
    if turns and turns[-1]["role"] == role:
        turns[-1]["content"] += blocks
    else:
        turns.append({"role": role, "content": blocks})


def _o2a_user(content: Any, field: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    parts = expect(content, list, field)
    return [_o2a_part(expect(part, dict, f"{field}[{k}]"), f"{field}[{k}]") for k, part in enumerate(parts)]


def _o2a_part(part: dict[str, Any], field: str) -> dict[str, Any]:
    kind = part.get("type")
    if kind == "text":
        return {"type": "text", "text": expect(part.get("text"), str, f"{field}.text")}
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        url = expect(url, str, f"{field}.image_url.url")
        if url.startswith("data:"):
            head, _, data = url.partition(",")
            if not head.endswith(";base64"):
                raise Untranslatable(f"{field}.image_url.url", "only base64 data URLs can be sent to Anthropic")
            return {"type": "image", "source": {"type": "base64", "media_type": head[5:-7], "data": data}}
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise Untranslatable(f"{field}.type", f"{kind!r} content cannot be sent to an Anthropic messages backend")


def _o2a_assistant(message: dict[str, Any], where: str) -> list[dict[str, Any]]:
    # thinking blocks a Responses client sent back as reasoning items (responses_translate), first
    blocks: list[dict[str, Any]] = list(message.get("_thinking") or [])
    content = message.get("content")
    if content:
        blocks.append({"type": "text", "text": joined_text(content, f"{where}.content")})
    if message.get("function_call") is not None:
        raise Untranslatable(f"{where}.function_call", "legacy function calls have no Anthropic equivalent; use tool_calls")
    if message.get("refusal"):
        raise Untranslatable(f"{where}.refusal", "a refusal has no Anthropic equivalent")
    for k, call in enumerate(message.get("tool_calls") or []):
        field = f"{where}.tool_calls[{k}]"
        call = expect(call, dict, field)
        function = expect(call.get("function"), dict, f"{field}.function")
        arguments = function.get("arguments") or "{}"
        try:
            parsed = json.loads(expect(arguments, str, f"{field}.function.arguments"))
        except ValueError:
            raise BadRequest(f"{field}.function.arguments", "is not valid JSON") from None
        blocks.append({"type": "tool_use", "id": expect(call.get("id"), str, f"{field}.id"),
                       "name": expect(function.get("name"), str, f"{field}.function.name"), "input": parsed})
    return blocks


def _o2a_tool(tool: Any, field: str) -> dict[str, Any]:
    tool = expect(tool, dict, field)
    if tool.get("type") != "function":
        raise Untranslatable(f"{field}.type", f"{tool.get('type')!r} tools have no Anthropic equivalent")
    function = expect(tool.get("function"), dict, f"{field}.function")
    out = {"name": expect(function.get("name"), str, f"{field}.function.name"),
           "input_schema": function.get("parameters") or {"type": "object", "properties": {}}}
    if function.get("description") is not None:
        out["description"] = function["description"]
    return out


def _o2a_tool_choice(choice: Any) -> dict[str, Any]:
    if isinstance(choice, str):
        mapped = {"auto": "auto", "required": "any", "none": "none"}
        if choice not in mapped:
            raise BadRequest("tool_choice", f"unknown tool choice {choice!r}")
        return {"type": mapped[choice]}
    choice = expect(choice, dict, "tool_choice")
    function = expect(choice.get("function"), dict, "tool_choice.function")
    return {"type": "tool", "name": expect(function.get("name"), str, "tool_choice.function.name")}


# -- whole answers -------------------------------------------------------------------------------


def openai_usage_to_anthropic(usage: Any) -> dict[str, int]:
    usage = usage if isinstance(usage, dict) else {}
    prompt = _int(usage.get("prompt_tokens"))
    details = usage.get("prompt_tokens_details") if isinstance(usage.get("prompt_tokens_details"), dict) else {}
    cached = _int(details.get("cached_tokens"))
    return {"input_tokens": max(0, prompt - cached), "output_tokens": _int(usage.get("completion_tokens")),
            "cache_read_input_tokens": cached, "cache_creation_input_tokens": 0}


def anthropic_usage_to_openai(usage: Any) -> dict[str, Any]:
    usage = usage if isinstance(usage, dict) else {}
    cached = _int(usage.get("cache_read_input_tokens"))
    prompt = _int(usage.get("input_tokens")) + cached + _int(usage.get("cache_creation_input_tokens"))
    output = _int(usage.get("output_tokens"))
    return {"prompt_tokens": prompt, "completion_tokens": output, "total_tokens": prompt + output,
            "prompt_tokens_details": {"cached_tokens": cached}}


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def openai_to_anthropic_response(data: dict[str, Any], model: str) -> dict[str, Any]:
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ValueError("the upstream answer has no choices")
    choice = choices[0]
    message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
    content: list[dict[str, Any]] = []
    text = message.get("content")
    if isinstance(text, list):
        text = "".join(p.get("text", "") for p in text if isinstance(p, dict))
    if text:
        content.append({"type": "text", "text": text})
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        try:
            arguments = json.loads(function.get("arguments") or "{}")
        except ValueError:
            raise ValueError(f"tool call {call.get('id')!r} has arguments that are not JSON") from None
        content.append({"type": "tool_use", "id": call.get("id") or _id("toolu"), "name": function.get("name", ""),
                        "input": arguments})
    finish = choice.get("finish_reason")
    return {"id": "msg_" + str(data.get("id") or _id("")), "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": O2A_STOP.get(finish, "end_turn") if finish else "end_turn",
            "stop_sequence": None, "usage": openai_usage_to_anthropic(data.get("usage"))}


def anthropic_to_openai_response(data: dict[str, Any], model: str) -> dict[str, Any]:
    blocks = data.get("content")
    if not isinstance(blocks, list):
        raise ValueError("the upstream answer has no content")
    texts, thinking, calls = [], [], []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text", ""))
        elif kind == "thinking":
            thinking.append(block.get("thinking", ""))
        elif kind == "tool_use":
            calls.append({"id": block.get("id"), "type": "function",
                          "function": {"name": block.get("name"), "arguments": json.dumps(block.get("input", {}))}})
        elif kind != "redacted_thinking":
            raise ValueError(f"the upstream answer has a {kind!r} block, which OpenAI chat completions cannot carry")
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if thinking:
        message["reasoning_content"] = "".join(thinking)
    if calls:
        message["tool_calls"] = calls
    stop = data.get("stop_reason")
    return {"id": "chatcmpl-" + str(data.get("id") or _id("")), "object": "chat.completion", "created": int(time.time()),
            "model": model, "choices": [{"index": 0, "message": message, "logprobs": None,
                                         "finish_reason": A2O_STOP.get(stop, "stop")}],
            "usage": anthropic_usage_to_openai(data.get("usage"))}


def _id(prefix: str) -> str:
    import uuid

    return f"{prefix}_{uuid.uuid4().hex[:24]}" if prefix else uuid.uuid4().hex[:24]
