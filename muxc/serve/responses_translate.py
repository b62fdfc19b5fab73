"""OpenAI Responses API ⇄ OpenAI chat completions: a Responses request becomes a chat request (which
the gateway then sends as it is, or translates to Anthropic messages), and a chat answer becomes
a Responses ``response`` object.

Pure functions over parsed JSON. Invariants:
- Nothing the client sent is dropped silently: what the chat form cannot carry is a
  ``BadRequest``/``Untranslatable`` naming the Responses field (``input[3].content[0].type``),
  except hosted tools (``web_search`` …) and ``reasoning`` items without ``encrypted_content``,
  which are left out and named in ``Context.notes`` (the request's log line says so).
- ``reasoning`` items with ``encrypted_content`` (Anthropic thinking this gateway returned) ride on
  the next assistant message as ``_thinking`` blocks: the chat → Anthropic translation puts them
  first in that turn; a chat backend gets them removed (``without_thinking``), noted.
- ``custom`` tools (Codex's ``apply_patch``) become a function taking one string ``input``; their
  calls come back as ``custom_tool_call`` items with that string. ``namespace`` tools are flattened
  to ``<namespace>__<name>`` and their calls come back with ``namespace`` and the inner name.
- Consecutive ``function_call`` items are one assistant message with parallel calls; images in a
  tool's output (a tool message cannot carry them) go in one user message right after the tool
  results; a ``function_call_output`` whose ``call_id`` matches no earlier call is a 400.
- Chat message ``i`` came from input item ``Context.origin[i]``, so an error the chat → Anthropic
  translation raises about ``messages[i]`` is reported about the Responses item.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from muxc.serve.translate import BadRequest, Untranslatable, expect

HOSTED_TOOLS = ("web_search", "web_search_preview", "web_search_2025_08_26", "web_search_preview_2025_03_11",
                "file_search", "tool_search", "code_interpreter", "image_generation")
NAMESPACE_SEP = "__"
CUSTOM_PARAMETERS = {"type": "object", "properties": {"input": {"type": "string", "description":
                     "the tool's whole input, as free-form text"}}, "required": ["input"],
                     "additionalProperties": False}
# the request fields muxc knows (the hints among them, such as store or include, are accepted and not sent on)
KNOWN = ("model", "input", "instructions", "tools", "tool_choice", "stream", "store", "include", "metadata",
           "prompt_cache_key", "previous_response_id", "service_tier", "user", "safety_identifier", "truncation",
           "stream_options", "parallel_tool_calls", "max_output_tokens", "temperature", "top_p", "reasoning",
           "text", "top_logprobs", "background", "client_metadata", "prompt_cache_retention")
UNSUPPORTED = {"conversation": "stored conversations are not kept by muxc serve; send the turns in input "
               "or use previous_response_id", "prompt": "stored prompt templates are OpenAI's; send the text",
               "max_tool_calls": "a limit on hosted tool calls has no equivalent on this backend"}


@dataclass
class Context:
    """What the answer's translation needs from the request, and what the log line says."""

    custom: set[str] = field(default_factory=set)  # custom tool names
    namespaced: dict[str, tuple[str, str]] = field(default_factory=dict)  # flat name -> (namespace, name)
    notes: list[str] = field(default_factory=list)
    origin: list[str] = field(default_factory=list)  # chat message index -> Responses field
    reasoning_effort: str | None = None

    def rename(self, problem: ValueError, origins: list[str | tuple[str, int]] | None = None) -> tuple[str, str]:
        """(message, field) of a chat-side error, in the Responses request's terms."""
        where = getattr(problem, "field", "")
        found = list(self.origin) if origins is None else origins
        match = re.match(r"messages\[(\d+)\](\.content\[(\d+)\])?", where)
        if match and int(match.group(1)) < len(found):
            origin, folded = found[int(match.group(1))], 0
            if isinstance(origin, tuple):
                origin, folded = origin
            if match.group(2):
                origin += f".content[{int(match.group(3)) - folded}]"
            return str(problem).replace(match.group(0), origin, 1), where.replace(match.group(0), origin, 1)
        if where == "response_format":
            return str(problem).replace("response_format", "text.format", 1), "text.format"
        return str(problem), where


# -- request ---------------------------------------------------------------------------------------


def to_chat_request(body: dict[str, Any], history: list[Any] | None = None) -> tuple[dict[str, Any], Context]:
    """The chat completions request for a Responses request (``history``: the earlier turns'
    items, from ``previous_response_id``)."""
    ctx = Context()
    for key in body:
        if key in UNSUPPORTED and body[key] is not None:
            raise Untranslatable(key, UNSUPPORTED[key])
        if key not in KNOWN and key not in UNSUPPORTED:
            raise BadRequest(key, "is not a Responses API request field")
    _check_types(body)
    if body.get("background"):
        raise Untranslatable("background", "muxc serve answers in the foreground only; leave background unset")
    messages: list[dict[str, Any]] = []
    instructions = body.get("instructions")
    if instructions is not None:
        messages.append({"role": "system", "content": expect(instructions, str, "instructions")})
        ctx.origin.append("instructions")
    _items(history or [], "(previous response)", messages, ctx)
    raw_input = body.get("input")
    if isinstance(raw_input, str):
        messages.append({"role": "user", "content": raw_input})
        ctx.origin.append("input")
    else:
        _items(expect(raw_input, list, "input"), "input", messages, ctx)
    if not messages:
        raise BadRequest("input", "is empty: send at least one message")
    out: dict[str, Any] = {"model": body.get("model"), "messages": messages}
    _params(body, out, ctx)
    return out, ctx


TYPES: dict[str, tuple[type | tuple[type, ...], str]] = {
    "stream": (bool, "a boolean"), "store": (bool, "a boolean"), "parallel_tool_calls": (bool, "a boolean"),
    "background": (bool, "a boolean"), "temperature": ((int, float), "a number"), "top_p": ((int, float), "a number"),
    "metadata": (dict, "an object"), "include": (list, "a list"), "previous_response_id": (str, "a string"),
    "prompt_cache_key": (str, "a string"), "user": (str, "a string"), "safety_identifier": (str, "a string"),
    "truncation": (str, "a string"), "service_tier": (str, "a string")}


def _check_types(body: dict[str, Any]) -> None:
    for key, (kind, shown) in TYPES.items():
        value = body.get(key)
        wrong = not isinstance(value, kind) or (kind is not bool and isinstance(value, bool))
        if value is not None and wrong:
            raise BadRequest(key, f"must be {shown}")


def _params(body: dict[str, Any], out: dict[str, Any], ctx: Context) -> None:
    for key in ("temperature", "top_p", "parallel_tool_calls"):
        if body.get(key) is not None:
            out[key] = body[key]
    if body.get("max_output_tokens") is not None:
        out["max_tokens"] = expect(body["max_output_tokens"], int, "max_output_tokens")
    if body.get("tools") is not None:
        tools = [_tool(expect(t, dict, f"tools[{i}]"), f"tools[{i}]", ctx)
                 for i, t in enumerate(expect(body["tools"], list, "tools"))]
        out["tools"] = [t for group in tools for t in group]
        if not out["tools"]:
            del out["tools"]
    if body.get("tool_choice") is not None:
        choice = _tool_choice(body["tool_choice"], ctx)
        if choice is not None and (out.get("tools") or choice == "none"):
            out["tool_choice"] = choice
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and reasoning.get("effort") is not None:
        ctx.reasoning_effort = expect(reasoning["effort"], str, "reasoning.effort")
    elif reasoning is not None:
        expect(reasoning, dict, "reasoning")
    text = body.get("text")
    if text is not None:
        fmt = expect(text, dict, "text").get("format")
        if fmt is not None:
            _text_format(expect(fmt, dict, "text.format"), out)
    if isinstance(body.get("user"), str):
        out["user"] = body["user"]
    if body.get("stream"):
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}


def _text_format(fmt: dict[str, Any], out: dict[str, Any]) -> None:
    kind = fmt.get("type")
    if kind == "text":
        return
    if kind == "json_object":
        out["response_format"] = {"type": "json_object"}
    elif kind == "json_schema":
        schema = {"name": expect(fmt.get("name", "answer"), str, "text.format.name"),
                  "schema": expect(fmt.get("schema"), dict, "text.format.schema")}
        if fmt.get("strict") is not None:
            schema["strict"] = fmt["strict"]
        out["response_format"] = {"type": "json_schema", "json_schema": schema}
    else:
        raise BadRequest("text.format.type", f"unknown format {kind!r} (text, json_object or json_schema)")


def _tool(tool: dict[str, Any], where: str, ctx: Context, namespace: str | None = None) -> list[dict[str, Any]]:
    kind = tool.get("type")
    if kind == "function":
        name = expect(tool.get("name"), str, f"{where}.name")
        function: dict[str, Any] = {"name": name, "parameters": tool.get("parameters") or
                                    {"type": "object", "properties": {}}}
        if namespace is not None:
            function["name"] = flat = f"{namespace}{NAMESPACE_SEP}{name}"
            ctx.namespaced[flat] = (namespace, name)
        if tool.get("description") is not None:
            function["description"] = expect(tool["description"], str, f"{where}.description")
        if tool.get("strict") is not None:
            function["strict"] = tool["strict"]
        return [{"type": "function", "function": function}]
    if kind == "custom" and namespace is None:
        name = expect(tool.get("name"), str, f"{where}.name")
        ctx.custom.add(name)
        description = str(tool.get("description") or "")
        fmt = tool.get("format")
        if isinstance(fmt, dict) and fmt.get("type") == "grammar":
            description += (f"\n\nThe input must follow this {fmt.get('syntax', '')} grammar:\n"
                            f"{fmt.get('definition', '')}")
        return [{"type": "function", "function": {"name": name, "description": description.strip(),
                                                  "parameters": CUSTOM_PARAMETERS}}]
    if kind == "namespace" and namespace is None:
        ns = expect(tool.get("name"), str, f"{where}.name")
        inner = expect(tool.get("tools"), list, f"{where}.tools")
        return [t for j, sub in enumerate(inner) for t in _tool(expect(sub, dict, f"{where}.tools[{j}]"),
                                                                 f"{where}.tools[{j}]", ctx, ns)]
    if kind in HOSTED_TOOLS:
        ctx.notes.append(f"hosted tool {kind} left out (the backend cannot run it)")
        return []
    raise Untranslatable(f"{where}.type", f"tool type {kind!r} at {where} cannot be served by muxc "
                         "(function, custom and namespace tools can)")


def _tool_choice(choice: Any, ctx: Context) -> Any:
    if isinstance(choice, str):
        if choice not in ("auto", "none", "required"):
            raise BadRequest("tool_choice", f"unknown tool choice {choice!r}")
        return choice
    choice = expect(choice, dict, "tool_choice")
    kind = choice.get("type")
    if kind in ("function", "custom"):
        name = expect(choice.get("name"), str, "tool_choice.name")
        if choice.get("namespace"):
            name = f"{choice['namespace']}{NAMESPACE_SEP}{name}"
        return {"type": "function", "function": {"name": name}}
    if kind in HOSTED_TOOLS:
        ctx.notes.append(f"tool_choice {kind} left out (hosted tool)")
        return None
    raise Untranslatable("tool_choice.type", f"tool choice {kind!r} has no chat completions equivalent")


# -- input items -----------------------------------------------------------------------------------


def _items(items: list[Any], where: str, messages: list[dict[str, Any]], ctx: Context) -> None:
    calls: set[str] = {c["id"] for m in messages for c in m.get("tool_calls", [])}
    images: list[dict[str, Any]] = []  # from tool outputs, sent as a user turn after the tool results
    thinking: list[dict[str, Any]] = []  # reasoning items, for the next assistant message
    for i, item in enumerate(items):
        field_ = f"{where}[{i}]"
        item = expect(item, dict, field_)
        kind = item.get("type", "message" if "role" in item else None)
        if kind not in ("function_call_output", "custom_tool_call_output") and images:
            _push(messages, ctx, {"role": "user", "content": images}, field_)
            images = []
        if kind == "message":
            _message(item, field_, messages, ctx)
            if thinking and messages[-1]["role"] == "assistant":
                messages[-1]["_thinking"], thinking = thinking, []
        elif kind in ("function_call", "custom_tool_call"):
            call = _call(item, field_, kind)
            calls.add(call["id"])
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant" and not thinking:
                last.setdefault("tool_calls", []).append(call)
            else:
                _push(messages, ctx, {"role": "assistant", "content": None, "tool_calls": [call]}, field_)
                if thinking:
                    messages[-1]["_thinking"], thinking = thinking, []
        elif kind in ("function_call_output", "custom_tool_call_output"):
            call_id = expect(item.get("call_id"), str, f"{field_}.call_id")
            if call_id not in calls:
                raise BadRequest(f"{field_}.call_id", f"{call_id!r} matches no function_call before it")
            text, found = _tool_output(item.get("output"), f"{field_}.output")
            images += found
            _push(messages, ctx, {"role": "tool", "tool_call_id": call_id, "content": text}, field_)
        elif kind == "reasoning":
            block = _thinking_block(item, field_)
            if block is None:
                _note(ctx, "reasoning items without encrypted_content left out")
            else:
                thinking.append(block)
        elif kind is None:
            raise BadRequest(f"{field_}.type", f"item {i} has no type")
        else:
            raise Untranslatable(f"{field_}.type", f"item type {kind!r} at {field_} cannot be sent to this backend "
                                 "(message, function_call, custom_tool_call and their outputs can)")
    if images:
        _push(messages, ctx, {"role": "user", "content": images}, f"{where}[{len(items) - 1}]")
    if thinking:
        _note(ctx, "reasoning items with no assistant turn after them left out")


REDACTED = "muxc-redacted:"  # encrypted_content of a reasoning item made of a redacted_thinking block


def _thinking_block(item: dict[str, Any], where: str) -> dict[str, Any] | None:
    """A reasoning item this gateway made of an Anthropic thinking block, as that block again."""
    encrypted = item.get("encrypted_content")
    if not encrypted:
        return None
    encrypted = expect(encrypted, str, f"{where}.encrypted_content")
    if encrypted.startswith(REDACTED):
        return {"type": "redacted_thinking", "data": encrypted[len(REDACTED):]}
    summary = expect(item.get("summary") or [], list, f"{where}.summary")
    text = "".join(str(part.get("text", "")) for part in summary if isinstance(part, dict))
    return {"type": "thinking", "thinking": text, "signature": encrypted}


def _note(ctx: Context, note: str) -> None:
    if note not in ctx.notes:
        ctx.notes.append(note)


def without_thinking(body: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """The chat request for a chat completions backend, which cannot take thinking blocks back."""
    if not any("_thinking" in m for m in body["messages"]):
        return body
    _note(ctx, "reasoning items left out (a chat completions backend cannot take them back)")
    return {**body, "messages": [{k: v for k, v in m.items() if k != "_thinking"} for m in body["messages"]]}


def _push(messages: list[dict[str, Any]], ctx: Context, message: dict[str, Any], origin: str) -> None:
    messages.append(message)
    ctx.origin.append(origin)


def _message(item: dict[str, Any], where: str, messages: list[dict[str, Any]], ctx: Context) -> None:
    role = item.get("role")
    if role not in ("user", "assistant", "system", "developer"):
        raise BadRequest(f"{where}.role", f"must be user, assistant, system or developer, not {role!r}")
    content = item.get("content")
    if isinstance(content, str):
        parts: Any = content
    else:
        parts = [_part(expect(p, dict, f"{where}.content[{k}]"), f"{where}.content[{k}]", role)
                 for k, p in enumerate(expect(content, list, f"{where}.content"))]
        if role != "user" or (len(parts) == 1 and parts[0]["type"] == "text"):
            parts = "".join(p["text"] for p in parts)  # the plain form every chat server takes
    if role == "developer":
        role = "system"
    _push(messages, ctx, {"role": role, "content": parts}, where)


def _part(part: dict[str, Any], where: str, role: str) -> dict[str, Any]:
    kind = part.get("type")
    if kind in ("input_text", "output_text", "text") or (kind == "refusal" and role == "assistant"):
        key = "refusal" if kind == "refusal" else "text"
        return {"type": "text", "text": expect(part.get(key), str, f"{where}.{key}")}
    if kind == "input_image" and role == "user":
        return _image(part, where)
    raise Untranslatable(f"{where}.type", f"{kind!r} content in a {role} message cannot be sent to this backend")


def _image(part: dict[str, Any], where: str) -> dict[str, Any]:
    if part.get("image_url") is None:
        if part.get("file_id") is not None:
            raise Untranslatable(f"{where}.file_id", "uploaded files are OpenAI's; send the image as a URL or data URL")
        raise BadRequest(f"{where}.image_url", "required: a URL or a data URL")
    image = {"url": expect(part["image_url"], str, f"{where}.image_url")}
    if part.get("detail") in ("low", "high"):
        image["detail"] = part["detail"]
    return {"type": "image_url", "image_url": image}


def _call(item: dict[str, Any], where: str, kind: str) -> dict[str, Any]:
    call_id = expect(item.get("call_id"), str, f"{where}.call_id")
    name = expect(item.get("name"), str, f"{where}.name")
    if item.get("namespace"):
        name = f"{expect(item['namespace'], str, f'{where}.namespace')}{NAMESPACE_SEP}{name}"
    if kind == "custom_tool_call":
        arguments = json.dumps({"input": expect(item.get("input"), str, f"{where}.input")}, ensure_ascii=False)
    else:
        arguments = expect(item.get("arguments", "{}"), str, f"{where}.arguments")
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def _tool_output(output: Any, where: str) -> tuple[str, list[dict[str, Any]]]:
    if isinstance(output, str):
        return output, []
    texts, images = [], []
    for k, part in enumerate(expect(output, list, where)):
        part = expect(part, dict, f"{where}[{k}]")
        kind = part.get("type")
        if kind in ("input_text", "output_text", "text"):
            texts.append(expect(part.get("text"), str, f"{where}[{k}].text"))
        elif kind == "input_image":
            images.append(_image(part, f"{where}[{k}]"))
        else:
            raise Untranslatable(f"{where}[{k}].type", f"{kind!r} tool output cannot be sent to this backend")
    if images:
        texts.append(f"[{len(images)} image(s) follow in the next user message]")
    return "\n".join(texts), images


def fold_late_system(body: dict[str, Any], origin: list[str]) -> tuple[dict[str, Any], list[str | tuple[str, int]]]:
    """For an Anthropic backend: system messages after the conversation started are folded into
    the next user turn (as leading text parts), leading ones stay the system prompt; Anthropic
    has no mid-conversation system turn, and moving them to the top would change their meaning.
    Returns the body and the Responses field each of its messages came from (with the number of
    folded parts before the item's own, for a user turn that received some)."""
    messages: list[dict[str, Any]] = []
    where: list[str | tuple[str, int]] = []
    pending: list[str] = []
    started = False
    for i, message in enumerate(body["messages"]):
        shown = origin[i] if i < len(origin) else f"messages[{i}]"
        if message["role"] == "system" and started:
            pending.append(message["content"] if isinstance(message["content"], str) else "")
            continue
        started = started or message["role"] != "system"
        if message["role"] == "user" and pending:
            content = message["content"]
            parts = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
            message = {**message, "content": [{"type": "text", "text": text} for text in pending] + parts}
            where.append((shown, len(pending)))
            pending = []
        else:
            where.append(shown)
        messages.append(message)
    if pending:
        messages.append({"role": "user", "content": [{"type": "text", "text": text} for text in pending]})
        where.append(origin[-1] if origin else "input")
    return {**body, "messages": messages}, where


# -- answer ----------------------------------------------------------------------------------------


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def response_object(request: dict[str, Any], response_id: str, model: str, status: str,
                    output: list[dict[str, Any]], usage: dict[str, Any] | None,
                    error: dict[str, Any] | None = None, created: int | None = None) -> dict[str, Any]:
    """A ``response`` object with the request's echoed settings."""
    incomplete = {"reason": "max_output_tokens"} if status == "incomplete" else None
    return {"id": response_id, "object": "response", "created_at": created or int(time.time()), "status": status,
            "error": error, "incomplete_details": incomplete, "instructions": request.get("instructions"),
            "max_output_tokens": request.get("max_output_tokens"), "model": model, "output": output,
            "parallel_tool_calls": request.get("parallel_tool_calls", True),
            "previous_response_id": request.get("previous_response_id"),
            "reasoning": request.get("reasoning") or {"effort": None, "summary": None},
            "store": request.get("store", True), "temperature": request.get("temperature"),
            "text": request.get("text") or {"format": {"type": "text"}},
            "tool_choice": request.get("tool_choice", "auto"), "tools": request.get("tools") or [],
            "top_p": request.get("top_p"), "truncation": request.get("truncation", "disabled"),
            "usage": usage, "user": request.get("user"), "metadata": request.get("metadata") or {}}


def usage_of(chat_usage: Any) -> dict[str, Any] | None:
    if not isinstance(chat_usage, dict):
        return None
    details = chat_usage.get("prompt_tokens_details") if isinstance(chat_usage.get("prompt_tokens_details"), dict) \
        else {}
    out_details = chat_usage.get("completion_tokens_details") \
        if isinstance(chat_usage.get("completion_tokens_details"), dict) else {}
    prompt, completion = _int(chat_usage.get("prompt_tokens")), _int(chat_usage.get("completion_tokens"))
    return {"input_tokens": prompt, "input_tokens_details": {"cached_tokens": _int(details.get("cached_tokens"))},
            "output_tokens": completion,
            "output_tokens_details": {"reasoning_tokens": _int(out_details.get("reasoning_tokens"))},
            "total_tokens": prompt + completion}


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def status_of(finish: str | None) -> str:
    return "incomplete" if finish in ("length", "content_filter") else "completed"


def message_item(text: str, item_id: str | None = None, status: str = "completed") -> dict[str, Any]:
    return {"type": "message", "id": item_id or new_id("msg"), "status": status, "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]}


def reasoning_item(text: str, item_id: str | None = None, encrypted: str | None = None) -> dict[str, Any]:
    """A reasoning item; ``encrypted``: the Anthropic thinking block's signature (or a redacted block's
    data, marked), so the block goes back to Anthropic intact on the next turn."""
    item: dict[str, Any] = {"type": "reasoning", "id": item_id or new_id("rs"),
                            "summary": [{"type": "summary_text", "text": text}] if text else []}
    if encrypted is not None:
        item["encrypted_content"] = encrypted
    return item


def thinking_items(blocks: Any) -> list[dict[str, Any]]:
    """An Anthropic answer's thinking blocks as reasoning items, signatures kept."""
    items = []
    for block in blocks if isinstance(blocks, list) else []:
        if isinstance(block, dict) and block.get("type") == "thinking":
            items.append(reasoning_item(str(block.get("thinking", "")), encrypted=block.get("signature")))
        elif isinstance(block, dict) and block.get("type") == "redacted_thinking":
            items.append(reasoning_item("", encrypted=REDACTED + str(block.get("data", ""))))
    return items


def call_item(call_id: str, name: str, arguments: str, ctx: Context, item_id: str | None = None) -> dict[str, Any]:
    """A chat tool call as a Responses item: function_call, or custom_tool_call for a custom tool."""
    if name in ctx.custom:
        try:
            parsed = json.loads(arguments)
            text = parsed["input"] if isinstance(parsed, dict) and isinstance(parsed.get("input"), str) else arguments
        except ValueError:
            text = arguments
        return {"type": "custom_tool_call", "id": item_id or new_id("ctc"), "status": "completed",
                "call_id": call_id, "name": name, "input": text}
    item: dict[str, Any] = {"type": "function_call", "id": item_id or new_id("fc"), "status": "completed",
                            "call_id": call_id, "name": name, "arguments": arguments}
    if name in ctx.namespaced:
        item["namespace"], item["name"] = ctx.namespaced[name]
    return item


def from_chat_document(doc: dict[str, Any], request: dict[str, Any], ctx: Context, model: str,
                       response_id: str, reasoning: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A whole chat completion (``ValueError`` when it has no choice) as a ``response``."""
    choices = doc.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ValueError("the upstream answer has no choices")
    message = choices[0].get("message") if isinstance(choices[0].get("message"), dict) else {}
    output: list[dict[str, Any]] = list(reasoning or [])
    if not output and isinstance(message.get("reasoning_content"), str) and message["reasoning_content"]:
        output.append(reasoning_item(message["reasoning_content"]))
    text = message.get("content")
    if isinstance(text, list):
        text = "".join(p.get("text", "") for p in text if isinstance(p, dict))
    if isinstance(text, str) and text:
        output.append(message_item(text))
    for call in message.get("tool_calls") or []:
        function = call.get("function") if isinstance(call, dict) and isinstance(call.get("function"), dict) else {}
        output.append(call_item(str(call.get("id") or new_id("call")), str(function.get("name") or ""),
                                str(function.get("arguments") or "{}"), ctx))
    if not output:
        output.append(message_item(""))
    status = status_of(choices[0].get("finish_reason"))
    return response_object(request, response_id, model, status, output, usage_of(doc.get("usage")))
