"""How muxc itself was installed, so a message can give the install command that really works.

An editable checkout (``pip install -e .``) gets ``pip install -e '.[EXTRA]'`` run in the
checkout; anything else ``pip install 'muxc[EXTRA]'``. Either way through the Python muxc runs
on (``sys.executable -m pip``), so the extra lands in muxc's environment, not another one.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse


def checkout() -> Path | None:
    """The source checkout muxc is installed from in editable mode, or None."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        text = distribution("muxc").read_text("direct_url.json")
    except PackageNotFoundError:
        return None
    try:
        info = json.loads(text) if text else {}
    except ValueError:
        return None
    url = info.get("url", "")
    if not info.get("dir_info", {}).get("editable") or not url.startswith("file://"):
        return None
    return Path(unquote(urlparse(url).path))


def install_command(extra: str, prefix: str = "") -> str:
    """The shell command that adds ``muxc[extra]`` to the environment muxc runs in."""
    pip = f"{prefix}{shlex.quote(sys.executable)} -m pip install"
    source = checkout()
    if source is not None:
        return f"cd {shlex.quote(str(source))} && {pip} -e '.[{extra}]'"
    return f"{pip} 'muxc[{extra}]'"
