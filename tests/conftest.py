"""Fixtures every test folder may use. Keep this file small; folder-specific fixtures live in
the folder's own ``conftest.py`` (or in ``tests/support`` when several folders share them).

- The repository root is importable, so ``from tests.support... import ...`` works however
  pytest was started.
- ``isolated_env``: HOME and the XDG directories point into the test's own temporary
  directory and no provider key or muxc variable is set, so a test never reads the user's
  real config, workflows or secrets. Returns the environment as a dict (it is also applied
  to ``os.environ`` for code and subprocesses that read the process environment).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import tests.support.fuzz  # noqa: E402, F401  (registers the "long" hypothesis profile)

# Variables that would let the host's configuration or credentials leak into a test.
_LEAKY = re.compile(r"(_API_KEY|_TOKEN|_SECRET)$|^(MUXC_|LLM_MUX|XDG_|NO_COLOR$|FORCE_COLOR$)")


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    home = tmp_path / "home"
    for name in [name for name in os.environ if _LEAKY.search(name)]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))
    for variable, sub in (("XDG_CONFIG_HOME", ".config"), ("XDG_DATA_HOME", ".local/share"),
                          ("XDG_CACHE_HOME", ".cache"), ("XDG_STATE_HOME", ".local/state")):
        (home / sub).mkdir(parents=True)
        monkeypatch.setenv(variable, str(home / sub))
    return dict(os.environ)
