"""Tokens per second of the built-in ``local`` backend through muxc, against llama-cpp-python used
directly: the same model, prompt, max_tokens and sampling settings. The target is under 10 %
overhead.

Through muxc, the call goes through ``BackendPool`` and the managed ``local`` backend, as a query
step's does: an HTTP request to ``muxc.backends.managed.local_server``, answered as a stream. Directly,
the same ``Llama`` settings (n_ctx 8192, the ``gemma`` chat format, llama.cpp's default threads)
run in this process. Sampling is greedy (temperature 0), so both generate the same tokens. Tokens
are counted the same way for both, by tokenizing the answer with the model.

The two are measured in alternating rounds, because the machine's load drifts, and the median of
each is reported. The server's start-up is timed separately and kept out of the rate.

    .venv/bin/python benchmarks/bench_local.py [--max-tokens 256] [--rounds 5] [--prompt TEXT]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PROMPT = ("Explain what a ring buffer is, how push and get work when it is full, and what can go wrong "
          "with the index arithmetic. Use a short Rust example.")


def settings(max_tokens: int) -> dict[str, float | int]:
    from muxc.backends.managed.local import DEFAULT_PARAMS

    return {**DEFAULT_PARAMS, "max_tokens": max_tokens, "temperature": 0.0}


def direct_model(path: Path):  # type: ignore[no-untyped-def]
    import llama_cpp

    from muxc.backends.managed.local_server import CHAT_FORMAT, DEFAULT_N_CTX

    return llama_cpp.Llama(model_path=str(path), n_ctx=DEFAULT_N_CTX, chat_format=CHAT_FORMAT, verbose=False)


def run_direct(llm, prompt: str, params: dict) -> tuple[str, float]:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    answer = llm.create_chat_completion([{"role": "user", "content": prompt}], **params)
    return answer["choices"][0]["message"]["content"], time.perf_counter() - started


def run_muxc(backend, prompt: str, params: dict) -> tuple[str, float]:  # type: ignore[no-untyped-def]
    from muxc.backends.base import Cancel, CompletionRequest

    started = time.perf_counter()
    completion = backend.complete(CompletionRequest(prompt, params=params), Cancel())
    return completion.text, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--prompt", default=PROMPT)
    options = parser.parse_args()

    from muxc.backends.managed.local import MODEL_FILE, missing_modules
    from muxc.backends.managed.local_server import ensure_model
    from muxc.backends.registry import BackendPool
    from muxc.base.userdirs import user_cache_dir
    from muxc.config.defaults import builtin_config

    config = builtin_config()
    missing = missing_modules(config.backends["local"])
    if missing:
        sys.exit(f"needs the muxc[local] extra (missing: {', '.join(missing)}); run scripts/install-local.sh")
    params = settings(options.max_tokens)
    model = ensure_model(user_cache_dir(os.environ) / "models" / MODEL_FILE, assemble=True)
    llm = direct_model(model)
    with tempfile.TemporaryDirectory() as root:
        pool = BackendPool(config, root, state_dir=Path(root) / "state")
        backend = pool.get("local")
        started = time.perf_counter()
        run_muxc(backend, "Say OK.", {**params, "max_tokens": 1})  # starts the server
        startup = time.perf_counter() - started
        run_direct(llm, "Say OK.", {**params, "max_tokens": 1})  # the same warm-up for both
        rates = {"direct": [], "muxc": []}
        tokens = {}
        for _ in range(options.rounds):
            for name, run in (("direct", lambda: run_direct(llm, options.prompt, params)),
                              ("muxc", lambda: run_muxc(backend, options.prompt, params))):
                text, seconds = run()
                tokens[name] = len(llm.tokenize(text.encode("utf-8"), add_bos=False))
                rates[name].append(tokens[name] / seconds)
        pool.close()
    report(rates, tokens, startup, options)


def report(rates: dict[str, list[float]], tokens: dict[str, int], startup: float,
           options: argparse.Namespace) -> None:
    direct, muxc = statistics.median(rates["direct"]), statistics.median(rates["muxc"])
    print(f"prompt: {options.prompt[:60]!r}…, max_tokens {options.max_tokens}, {options.rounds} alternating rounds")
    print(f"tokens generated: direct {tokens['direct']}, muxc {tokens['muxc']}")
    print(f"llama-cpp-python directly : {direct:6.1f} tokens/s (median; runs {_list(rates['direct'])})")
    print(f"through muxc (local)      : {muxc:6.1f} tokens/s (median; runs {_list(rates['muxc'])})")
    print(f"muxc overhead             : {(direct - muxc) / direct * 100:5.1f} % (target < 10 %)")
    print(f"server start (first call) : {startup:6.2f} s, not counted above")


def _list(values: list[float]) -> str:
    return ", ".join(f"{value:.1f}" for value in values)


if __name__ == "__main__":
    main()
