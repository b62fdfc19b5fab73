"""A real OpenAI-compatible server process that dies: it answers `--answers` chat completions,
then exits, as a crashing model server would. Run by managed-backend start hooks in tests:

    python -m tests.support.dying_server PORT PIDFILE --answers 1

It answers ``GET /v1/models`` (a health check) and ``POST /v1/chat/completions`` with
``"<pid> says: <prompt>"``; the pid tells which run of the server answered.
"""

from __future__ import annotations

import argparse
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("pidfile", type=Path)
    parser.add_argument("--answers", type=int, default=1)
    args = parser.parse_args()
    remaining = [args.answers]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._send({"data": [{"id": "m"}]})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            prompt = body["messages"][-1]["content"]
            self._send({"choices": [{"message": {"role": "assistant", "content": f"{os.getpid()} says: {prompt}"},
                                     "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1}})
            remaining[0] -= 1
            if remaining[0] <= 0:  # crash once this answer is out: every socket closes at once
                self.wfile.flush()
                os._exit(0)

        def _send(self, doc: dict) -> None:
            data = json.dumps(doc).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    args.pidfile.write_text(str(os.getpid()))
    server.serve_forever()


if __name__ == "__main__":
    main()
