"""The README's tour works as written on a fresh clone: every line of it runs and exits 0.

The tour is run in a copy of the parts of the checkout it uses (the example crate and the example
workflows), with muxc as ``python -m muxc`` (the tour's first line puts it on PATH) and, for
``muxc init``'s interactive choice, ``--backend`` naming a real OpenAI-compatible server on a
loopback port that answers every query.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.fixtures import llm_server  # noqa: F401
from tests.support.llm_server import Reply

ROOT = Path(__file__).resolve().parents[1]


def tour_lines() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## A tour\n.*?```sh\n(.*?)```", text, flags=re.S)[1]
    return [re.sub(r"\s+#.*$", "", line).strip() for line in block.splitlines() if line.strip()]


def test_the_readme_tour_runs_on_a_fresh_clone(tmp_path: Path, isolated_env: dict[str, str], llm_server):  # noqa: F811
    clone = tmp_path / "muxc"
    shutil.copytree(ROOT / "examples", clone / "examples", ignore=shutil.ignore_patterns(".muxc", "reports", "target"))
    llm_server.responder = lambda request: Reply(text="No findings.")
    env = dict(isolated_env)
    lines = tour_lines()
    assert lines[0] == ". .venv/bin/activate" and lines[1].startswith("export MUXC_DIR=")
    env["MUXC_DIR"] = lines[1].split("=", 1)[1]
    for line in lines[2:]:
        assert line.startswith("muxc "), line
        args = line.split()[1:]
        if args == ["init"]:  # on a terminal it asks; here the answer is the loopback server
            args += ["--backend", llm_server.openai_url]
        done = subprocess.run([sys.executable, "-m", "muxc", *args], cwd=clone, env=env, text=True,
                              capture_output=True, timeout=120)
        assert done.returncode == 0, f"$ {line}\n{done.stdout}\n{done.stderr}"
    assert (clone / "examples" / "rust-crate" / "reports" / "feb-audit" / "README.md").is_file()
