"""The gateway's ASGI application: a plain ASGI callable (no framework: it measured faster, and
the gateway has eight routes).

Per request: the path (query strings ignored) picks the endpoint; every endpoint but ``/health``
needs an API key when ``[serve] api_keys`` is set (``Authorization: Bearer`` or ``x-api-key``,
compared in constant time); the body is read up to ``max_body`` bytes (more is a 413, told by
``content-length`` before reading when it is given); JSON that does not parse, or is not an
object, is a 400 in the client's format. A client that disconnects mid-request cancels its
handler, which releases the upstream request, its slot and its managed lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import time
from typing import Any

from muxc.app.gateway import Gateway
from muxc.base.cancel import Cancel
from muxc.serve.chat import JSON_HEADERS, ChatRequest, Services, log_line
from muxc.serve.metrics import Metrics
from muxc.serve.responses import ResponsesRequest, ResponseStore
from muxc.serve.schedule import SwitchScheduler
from muxc.serve.wire import error_body

CHAT_PATHS = {"/v1/chat/completions": "openai", "/chat/completions": "openai", "/v1/messages": "anthropic",
              "/messages": "anthropic"}
COUNT_PATHS = ("/v1/messages/count_tokens", "/messages/count_tokens")
RESPONSES_PATHS = ("/v1/responses", "/responses")
TTL_CHECK_S = 1.0
BODY_TIMEOUT_S = 30.0  # a client that takes longer to send its request body gets a 408


class TooLarge(Exception):
    pass


class ServeApp:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.metrics = Metrics()
        self.services = Services(gateway, self.metrics, SwitchScheduler(gateway, gateway.settings.max_wait))
        self._keys = [key.encode() for key in gateway.settings.keys]
        self.responses: Any = ResponseStore(gateway.settings.max_stored)  # in memory until startup opens the file
        self._ttl_task: asyncio.Task[None] | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    # -- lifespan -----------------------------------------------------------------------------

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.gateway.start()
                self.responses = await asyncio.get_running_loop().run_in_executor(
                    None, self.gateway.response_store) or self.responses
                if self.gateway.settings.ttl is not None:
                    self._ttl_task = asyncio.create_task(self._expire_idle())
                # the upstream client's modules load beside the listening server, not before it
                asyncio.get_running_loop().run_in_executor(None, _warm_up)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._ttl_task is not None:
                    self._ttl_task.cancel()
                await self.gateway.aclose()
                if hasattr(self.responses, "close"):
                    self.responses.close()
                await asyncio.get_running_loop().run_in_executor(None, self.gateway.stop_managed)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _expire_idle(self) -> None:
        ttl = self.gateway.settings.ttl or 0.0
        while True:
            await asyncio.sleep(min(TTL_CHECK_S, ttl))
            for resident in self.gateway.residents():
                if resident["state"] == "running" and resident["idle_s"] >= ttl:
                    await self.gateway.unload(resident["backend"], ttl)

    # -- requests -----------------------------------------------------------------------------

    async def _http(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path, method = scope["path"], scope["method"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        protocol = "anthropic" if path.startswith(("/v1/messages", "/messages")) or "anthropic-version" in headers \
            or "x-api-key" in headers else "openai"
        if path in RESPONSES_PATHS or _stored_id(path):
            protocol = "openai"  # the Responses API's errors are OpenAI's, whatever headers came
        endpoint = f"{method} {path}"
        if path == "/health" and method == "GET":
            return await _json(send, 200, {"status": "ok"})
        if self._keys and not self._authorized(headers):
            log_line(endpoint, "", "-", 401, 0.0, None, "missing or wrong API key")
            return await _error(send, protocol, 401, "missing or wrong API key: send Authorization: Bearer <key> "
                                "or x-api-key: <key>")
        if path in RESPONSES_PATHS and method == "GET":
            status = await _refuse_websocket(send, headers)
            return log_line(endpoint, "", "-", status, 0.0, None, "no WebSocket transport: the client should POST")
        if method == "GET":
            return await self._get(path, protocol, send)
        if method == "DELETE" and _stored_id(path):
            return await self._delete_response(_stored_id(path), send)
        if method != "POST":
            return await _error(send, protocol, 405, f"{method} is not allowed on {path}")
        if path not in CHAT_PATHS and path not in COUNT_PATHS and path not in RESPONSES_PATHS and path != "/unload":
            return await _error(send, protocol, 404, f"no endpoint {path}; the endpoints are /v1/chat/completions, "
                                "/v1/messages, /v1/messages/count_tokens, /v1/responses, /v1/models, /health, /metrics, "
                                "/running, /unload")
        started = time.monotonic()
        try:
            raw = await asyncio.wait_for(self._body(headers, receive), BODY_TIMEOUT_S)
        except TimeoutError:
            log_line(endpoint, "", "-", 408, time.monotonic() - started, None, "request body too slow")
            return await _error(send, protocol, 408, f"the request body did not arrive within {BODY_TIMEOUT_S:g}s")
        except TooLarge:
            limit = self.gateway.settings.max_body
            log_line(endpoint, "", "-", 413, time.monotonic() - started, None, "body too large")
            return await _error(send, protocol, 413, f"the request body is larger than {limit} bytes "
                                "([serve] max_body)")
        except _Disconnected:
            return None
        body = _parse(raw) if raw else {}
        if path == "/unload":
            return await self._unload(body if isinstance(body, dict) else {}, send)
        if not isinstance(body, dict):
            why = "the request body is not valid JSON" if body is _INVALID else "the request body must be a JSON object"
            log_line(endpoint, "", "-", 400, time.monotonic() - started, None, why)
            return await _error(send, protocol, 400, why)
        if path in COUNT_PATHS:
            return await _json(send, 200, _count_tokens(body))
        cancel = Cancel()
        if path in RESPONSES_PATHS:
            request = ResponsesRequest(self.services, self.responses, body, headers, endpoint, send, cancel)
        else:
            request = ChatRequest(self.services, CHAT_PATHS[path], body, headers, endpoint, send, cancel)
        await self._drive(request, cancel, receive)

    def _authorized(self, headers: dict[str, str]) -> bool:
        offered = headers.get("x-api-key", "")
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            offered = auth[7:].strip()
        candidate = offered.encode()
        found = False
        for key in self._keys:  # every key compared, in constant time each
            found |= hmac.compare_digest(candidate, key)
        return found

    async def _body(self, headers: dict[str, str], receive: Any) -> bytes:
        limit = self.gateway.settings.max_body
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise TooLarge
        parts, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise TooLarge
            parts.append(chunk)
            if not message.get("more_body"):
                return b"".join(parts)

    async def _drive(self, request: ChatRequest, cancel: Cancel, receive: Any) -> None:
        task = asyncio.ensure_future(request.run())
        watcher = asyncio.ensure_future(_watch_disconnect(receive))
        done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if task not in done:  # the client went away: stop everything it started
            cancel.set()
            task.cancel()
        else:
            watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError, OSError):
            await task

    # -- GET endpoints and /unload -----------------------------------------------------------

    async def _get(self, path: str, protocol: str, send: Any) -> None:
        if path == "/metrics":
            return await _send(send, 200, [(b"content-type", b"text/plain; version=0.0.4")], self.metrics.render())
        if path in ("/v1/models", "/models"):
            return await _json(send, 200, self._models(protocol))
        if _stored_id(path):
            return await self._stored_response(_stored_id(path), send)
        if path.endswith("/input_items") and _stored_id(path[:-len("/input_items")]):
            return await self._stored_input(_stored_id(path[:-len("/input_items")]), send)
        if path == "/running":
            return await _json(send, 200, {"running": self.gateway.residents(), "switches": self.gateway.switches()})
        return await _error(send, protocol, 404, f"no endpoint GET {path}")

    def _models(self, protocol: str) -> dict[str, Any]:
        names = self.gateway.model_names()
        created = int(self.gateway.started)
        if protocol == "anthropic":
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created))
            data = [{"type": "model", "id": n, "display_name": n, "created_at": stamp} for n in names]
            return {"data": data, "has_more": False, "first_id": names[0] if names else None,
                    "last_id": names[-1] if names else None}
        return {"object": "list", "data": [{"id": n, "object": "model", "created": created, "owned_by": "muxc"}
                                           for n in names]}

    async def _stored_response(self, response_id: str, send: Any) -> None:
        stored = self.responses.get(response_id)
        if stored is None:
            return await _error(send, "openai", 404, f"no stored response {response_id!r} (muxc serve keeps responses "
                                f"sent with store: true for [serve] store_ttl, the last {self.responses.limit} at most)")
        await _json(send, 200, stored[0])

    async def _stored_input(self, response_id: str, send: Any) -> None:
        """``GET /v1/responses/{id}/input_items``: the input that led to a stored response, earlier
        turns included, newest first as OpenAI lists them (one page: ``has_more`` is false)."""
        stored = self.responses.get(response_id)
        if stored is None:
            return await _error(send, "openai", 404, f"no stored response {response_id!r}")
        items = [dict(item) if isinstance(item, dict) else {"type": "message", "role": "user", "content": item}
                 for item in reversed(stored[1])]  # copies: the listing's ids never reach the stored turns
        for number, item in enumerate(items):
            item.setdefault("id", f"item_{response_id}_{number}")
            if item.get("role") and isinstance(item.get("content"), str):  # listed as OpenAI lists it: parts
                part = "output_text" if item["role"] == "assistant" else "input_text"
                item["type"], item["content"] = "message", [{"type": part, "text": item["content"]}]
        await _json(send, 200, {"object": "list", "data": items, "has_more": False,
                                "first_id": items[0]["id"] if items else None,
                                "last_id": items[-1]["id"] if items else None})

    async def _delete_response(self, response_id: str, send: Any) -> None:
        if not self.responses.delete(response_id):
            return await _error(send, "openai", 404, f"no stored response {response_id!r}")
        await _json(send, 200, {"id": response_id, "object": "response.deleted", "deleted": True})

    async def _unload(self, body: dict[str, Any], send: Any) -> None:
        wanted = body.get("backend") or body.get("model")
        names = [str(wanted)] if wanted else [r["backend"] for r in self.gateway.residents()]
        stopped = [name for name in names if await self.gateway.unload(name)]
        await _json(send, 200, {"stopped": stopped})


def _stored_id(path: str) -> str:
    """The id in ``/v1/responses/{id}`` ("" for any other path)."""
    for prefix in ("/v1/responses/", "/responses/"):
        if path.startswith(prefix) and "/" not in path[len(prefix):]:
            return path[len(prefix):]
    return ""


async def _refuse_websocket(send: Any, headers: dict[str, str]) -> int:
    """``GET /v1/responses``: some clients try the WebSocket transport first; a plain HTTP answer
    at once (426 for an upgrade attempt) makes them fall back to ``POST`` with an event stream."""
    upgrade = headers.get("upgrade", "").lower() == "websocket"
    status = 426 if upgrade else 405
    message = ("muxc serve does not speak the Responses WebSocket transport; use POST /v1/responses (streamed)"
               if upgrade else "GET is not allowed on /v1/responses; POST a request, or GET /v1/responses/{id}")
    await _send(send, status, [*JSON_HEADERS, (b"connection", b"close")], error_body("openai", status, message))
    return status


def _warm_up() -> None:
    import importlib

    for module in ("aiohttp", "muxc.backends.http.client"):
        importlib.import_module(module)


class _Disconnected(Exception):
    pass


async def _watch_disconnect(receive: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


_INVALID = object()


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return _INVALID


def _count_tokens(body: dict[str, Any]) -> dict[str, Any]:
    """An estimate (about four characters a token over every string in the request), labelled as one."""
    def chars(value: Any) -> int:
        if isinstance(value, str):
            return len(value)
        if isinstance(value, dict):
            return sum(chars(v) for k, v in value.items() if k not in ("data", "model", "role", "type"))
        if isinstance(value, list):
            return sum(chars(v) for v in value)
        return 0

    total = chars({k: body.get(k) for k in ("system", "messages", "tools")})
    return {"input_tokens": max(1, (total + 3) // 4), "estimate": True,
            "method": "about 4 characters per token; muxc serve does not call the backend for counts"}


async def _send(send: Any, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _json(send: Any, status: int, data: Any) -> None:
    await _send(send, status, JSON_HEADERS, json.dumps(data).encode())


async def _error(send: Any, protocol: str, status: int, message: str) -> None:
    await _send(send, status, JSON_HEADERS, error_body(protocol, status, message))
