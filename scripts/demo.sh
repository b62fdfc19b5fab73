#!/usr/bin/env bash
# The first thing to try: a model running on this machine audits a small Rust crate.
# No API key and no configuration. Run it again and it finishes at once: nothing changed, so
# every step comes from the cache.
#
#   scripts/demo.sh
set -euo pipefail

cd "$(dirname "$0")/.."
CRATE=examples/rust-crate
REPORTS=reports/audit

scripts/install-local.sh

printf '==> auditing %s with the built-in local model (Qwen2.5-Coder 0.5B Instruct on llama.cpp)\n' "$CRATE" >&2
# -C makes the crate the project: its build state (.muxc/) and its reports stay inside it
.venv/bin/muxc build rust-audit outdir="$REPORTS" -C "$CRATE"

printf '\nThe reports are in %s/%s/: start with README.md, which links the other four.\n' "$CRATE" "$REPORTS" >&2
