"""Where things live: the project root, the user's config and data dirs (XDG), workflow search paths.

The project root is ``-C DIR`` when given, else the nearest directory upwards from the current
one that has ``.muxc/``, ``.llm-mux/`` or ``.git``, else the current directory. Environment
lookups take an explicit mapping so tests can isolate them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

PROJECT_MARKERS = (".muxc", ".llm-mux", ".git")


def find_project_root(start: Path) -> Path:
    start = start.resolve()
    for marker in PROJECT_MARKERS:
        for directory in (start, *start.parents):
            if (directory / marker).exists():
                return directory
    return start


def _xdg(environ: Mapping[str, str], variable: str, fallback: str) -> Path:
    value = environ.get(variable)
    if value and os.path.isabs(value):
        return Path(value)
    return Path(environ.get("HOME", str(Path.home()))) / fallback


def user_config_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_CONFIG_HOME`` (default ``~/.config``); muxc's files are in ``muxc/`` under it."""
    return _xdg(environ, "XDG_CONFIG_HOME", ".config")


def user_data_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_DATA_HOME/muxc`` (default ``~/.local/share/muxc``): the LLM log, the memory databases."""
    return _xdg(environ, "XDG_DATA_HOME", ".local/share") / "muxc"


def user_cache_dir(environ: Mapping[str, str]) -> Path:
    return _xdg(environ, "XDG_CACHE_HOME", ".cache") / "muxc"


def config_files(project: Path, environ: Mapping[str, str]) -> list[Path]:
    """Config files in precedence order, lowest first (llm-mux's below ours at each level)."""
    user = user_config_dir(environ)
    return [
        user / "llm-mux" / "config.toml",
        user / "muxc" / "config.toml",
        project / ".llm-mux" / "config.toml",
        project / ".muxc" / "config.toml",
    ]


def workflow_dirs(project: Path, environ: Mapping[str, str], stdlib: Path) -> list[tuple[str, Path]]:
    """(origin, directory) in lookup order: project, llm-mux project, user, llm-mux user, stdlib."""
    user = user_config_dir(environ)
    return [
        ("project", project / ".muxc" / "workflows"),
        ("project", project / ".llm-mux" / "workflows"),
        ("user", user / "muxc" / "workflows"),
        ("user", user / "llm-mux" / "workflows"),
        ("stdlib", stdlib),
    ]
