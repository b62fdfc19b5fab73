"""The ``muxc`` command line: a click group (``cli.group``) with one module per area.

Commands are thin: parse options, call one ``muxc.app.api`` function, render, exit. Results go to
stdout, progress and summaries to stderr. Exit codes: 0 success, 1 a failure muxc found (errors
in a workflow, a failed step), 2 a usage problem (bad option, unknown workflow or code), 3 a file
or directory muxc needs is unusable (the message names it and what to do; ``common.LazyGroup``).

This package's own import loads nothing: ``entry`` (the ``muxc`` executable) first lets
``cli.lane`` answer a plain no-op ``muxc build`` without click, and ``main`` / ``COMMANDS`` (the
group, for ``CliRunner`` and the docs) load ``cli.group`` when first asked for.
"""

from __future__ import annotations

import os
import sys
from typing import Any


def entry() -> None:
    """``muxc``: a no-op build answered by ``cli.lane``, anything else by the click group."""
    from muxc.cli.lane import answer_noop_build

    code = answer_noop_build(sys.argv[1:], os.environ)
    if code is not None:
        sys.exit(code)
    from muxc.cli.group import main

    main()


def __getattr__(name: str) -> Any:  # PEP 562: ``from muxc.cli import main`` loads click only then
    if name in ("main", "COMMANDS"):
        from muxc.cli import group

        return getattr(group, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
