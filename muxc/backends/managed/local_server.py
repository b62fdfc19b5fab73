"""The built-in ``local`` backend's server process: one GGUF model behind llama.cpp's own
OpenAI-compatible HTTP server, run in-process through the prebuilt ``xllamacpp`` wheel.

muxc runs it as ``python -m muxc.backends.managed.local_server --port N (--builtin NAME --model FILE
| --model FILE [--chat-template NAME]) [--parent-pid PID] [--threads N] [--n-ctx N]`` (see
``local.LocalServer``); ``--check`` loads the model, answers one question on stdout and exits
(``scripts/install-local.sh``'s smoke test).

Before anything is loaded:
- the model is verified (``local_verify``): a built-in model is assembled from its packages on
  first use, and its sha256 and GGUF metadata must be the pinned ones; a file of the user's own
  must be a GGUF with a chat template, or be given one (``--chat-template``, which turns Jinja off
  and uses llama.cpp's built-in template of that name).
- the OpenMP environment is set (``openmp_env``). llama.cpp's CPU threads are OpenMP threads from
  the system's ``libgomp``, which reads its environment once, when the library loads, so this
  happens before ``xllamacpp`` is imported. By default idle OpenMP threads spin for a long time
  (``GOMP_SPINCOUNT`` 300,000 busy-wait rounds or more); while any other process wants a core,
  the spinning threads and it preempt each other and generation falls several-fold. A short spin
  count keeps full speed alone and under load. One thread per physical core, not per logical CPU.

What llama.cpp's server gives (and muxc relies on): ``GET /v1/models`` and ``/health`` answer 200
once the model is loaded (before that the port is not listening); ``POST /v1/chat/completions``
answers JSON or server-sent events with the usage in the last chunk when asked
(``stream_options.include_usage``); a prompt too long for the context is a 400 before anything
is streamed; a stream sends a ping comment every ``sse_ping_interval`` seconds while the prompt is
read, so muxc's idle timeout measures silence, not prompt length; a client that disconnects
stops its generation. One slot (``n_parallel = 1``): two generations would only split two cores.

Invariants: loopback only. With ``--parent-pid`` the server exits when that process is gone, so a
muxc killed with ``kill -9`` leaves no server behind. SIGTERM exits at once once the engine runs
(``serve_until_sigterm``); before that it unwinds, so no half-assembled model is left.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULT_N_CTX = 8192
PARENT_POLL_S = 1.0
PING_INTERVAL_S = 10  # well under muxc's idle timeout (120 s by default)
SPIN_COUNT = "10000"  # GOMP_SPINCOUNT: spin this long, then sleep (see the module docstring)
LIBGOMP_HELP = ("the prebuilt llama.cpp engine needs the system's OpenMP library, libgomp.so.1: install it "
                "(Debian/Ubuntu: apt-get install libgomp1; Fedora: dnf install libgomp)")


# -- the OpenMP environment ---------------------------------------------------------------------


def physical_cores(cpus: set[int] | None = None) -> int:
    """Physical cores among the CPUs this process may run on (hyper-threads counted once)."""
    cpus = cpus if cpus is not None else os.sched_getaffinity(0)
    cores = set()
    for cpu in cpus:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            cores.add((topology.joinpath("physical_package_id").read_text().strip(),
                       topology.joinpath("core_id").read_text().strip()))
        except OSError:
            cores.add(("cpu", str(cpu)))  # no topology (a container may hide it): count the CPU
    return max(1, len(cores))


def openmp_env(environ: Mapping[str, str], threads: int) -> dict[str, str]:
    """The OpenMP variables to set before llama.cpp loads; a value the user set is kept."""
    wanted = {"GOMP_SPINCOUNT": SPIN_COUNT, "OMP_NUM_THREADS": str(threads)}
    return {name: value for name, value in wanted.items() if not environ.get(name)}


# -- the model ----------------------------------------------------------------------------------


def prepare_model(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """(the model's served name, its metadata) once the file is verified; raises ``ModelError``."""
    from muxc.backends.managed import local_models, local_verify

    if args.builtin:
        spec = local_models.find(args.builtin)
        if spec is None:
            raise local_verify.ModelError(f"no built-in model is called {args.builtin!r}; the built-in models are "
                                          f"{', '.join(local_models.MODELS)}")
        return spec.name, local_verify.verify_builtin(spec, args.model, reinstall_command(spec), log)
    return args.model.stem, local_verify.check_own(args.model, args.chat_template)


def reinstall_command(spec: Any) -> str:
    from muxc.base.install import install_command

    return install_command(spec.extra).replace(" install ", " install --force-reinstall ", 1)


def engine_params(args: argparse.Namespace, name: str, threads: int) -> Any:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(args.model)
    params.model_alias = {name}
    params.port = args.port
    params.n_ctx = args.n_ctx
    params.n_parallel = 1
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.sse_ping_interval = PING_INTERVAL_S
    if args.chat_template:  # a llama.cpp built-in template name, for a GGUF without one
        params.use_jinja = False
        params.chat_template = args.chat_template
    return params


def start_engine(args: argparse.Namespace, name: str, threads: int) -> Any:
    """llama.cpp serving the model on the port; returns when it is listening."""
    os.environ.update(openmp_env(os.environ, threads))  # before libgomp is loaded: it reads them once
    try:
        import xllamacpp
    except ImportError as error:
        if "libgomp" in str(error):
            raise SystemExit(f"muxc local server: {LIBGOMP_HELP} ({error})") from None
        raise SystemExit(f"muxc local server: cannot load the llama.cpp engine (xllamacpp): {error}; install the "
                         "muxc[local] extra") from None
    try:
        return xllamacpp.Server(engine_params(args, name, threads))
    except RuntimeError as error:
        raise SystemExit(f"muxc local server: llama.cpp could not load {args.model} or listen on 127.0.0.1:"
                         f"{args.port} ({error}); its own messages are above") from None


def check(server: Any, name: str) -> int:
    """Ask one question and print the answer: the engine runs here and the model follows orders."""
    answer = server.handle_chat_completions({
        "model": name, "max_tokens": 16, "temperature": 0,
        "messages": [{"role": "user", "content": "What is the capital of France? Answer with one word."}]})
    text = ((answer.get("choices") or [{}])[0].get("message") or {}).get("content")
    if not text:
        print(f"muxc local server: the model gave no answer: {json.dumps(answer)[:500]}", file=sys.stderr)
        return 1
    print(text.strip())
    return 0


# -- process ------------------------------------------------------------------------------------


def watch_parent(pid: int | None) -> None:
    """Exit when ``pid`` is gone: nothing else would stop a server whose muxc was killed."""
    if not pid:
        return

    def watch() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # the main thread takes it (main)
        while True:
            if os.getppid() != pid:
                os._exit(0)
            time.sleep(PARENT_POLL_S)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def stop_on_sigterm() -> None:
    """While the model is prepared, SIGTERM unwinds (a half-assembled file is removed)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


def serve_until_sigterm() -> None:
    """Wait for SIGTERM, then exit at once: nothing to flush, answers are in flight or not.

    SIGTERM is blocked in every thread (the engine's threads inherit the mask of the thread that
    starts them, see main), so it stays pending until ``sigwait`` takes it here. llama.cpp's own
    handler, which only stops its loop and would leave this process waiting, never runs."""
    signal.sigwait({signal.SIGTERM})
    os._exit(0)


def log(message: str) -> None:
    print(f"muxc local server: {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m muxc.backends.managed.local_server",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0, help="the loopback port (0: any free one)")
    parser.add_argument("--model", type=Path, required=True, help="the GGUF file")
    parser.add_argument("--builtin", metavar="NAME", help="a built-in model: assemble FILE from its packages, verify it")
    parser.add_argument("--parent-pid", type=int, help="exit when this process is gone")
    parser.add_argument("--threads", type=int, help="generation threads (default: the physical cores)")
    parser.add_argument("--n-ctx", type=int, default=DEFAULT_N_CTX, help="context size in tokens")
    parser.add_argument("--chat-template", metavar="NAME", help="llama.cpp's built-in template (chatml, gemma, ...) "
                        "for a GGUF without one")
    parser.add_argument("--check", action="store_true", help="answer one question on stdout and exit")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from muxc.backends.managed.local_verify import ModelError, describe

    args = parse_args(argv)
    stop_on_sigterm()
    watch_parent(args.parent_pid)
    started = time.monotonic()
    try:
        name, metadata = prepare_model(args)
    except ModelError as error:
        log(str(error))
        return 1
    threads = args.threads or physical_cores()
    log(f"serving {args.model}: {describe(metadata)}, {threads} threads")
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # before the engine starts its threads
    server = start_engine(args, name, threads)
    if args.check:
        return check(server, name)
    log(f"{name} ready on {server.listening_address} in {time.monotonic() - started:.1f}s")
    serve_until_sigterm()
    return 0


if __name__ == "__main__":
    sys.exit(main())
