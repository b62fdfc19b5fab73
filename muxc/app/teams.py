"""Team detection: which team's roles and ``verify`` apply to this project.

``--team`` wins (an unknown name is an error, never silently ignored). Otherwise muxc looks for
each team's ``detect`` files in the directory the build runs in, then its parents up to the
project root: the nearest directory with a match wins (a Rust crate inside a Node monorepo is
Rust), and within one directory the first team in config order wins, so the result never
depends on hash order.
"""

from __future__ import annotations

import os
from pathlib import Path

from muxc.config.schema import Config, TeamConfig


class UnknownTeam(ValueError):
    pass


def select_team(config: Config, explicit: str | None, start: Path, root: Path) -> TeamConfig | None:
    if explicit is not None:
        team = config.teams.get(explicit)
        if team is None:
            known = ", ".join(config.teams) or "none are configured"
            raise UnknownTeam(f"no team named {explicit!r} (teams: {known})")
        return team
    return detect_team(config, start, root)


def detect_team(config: Config, start: Path, root: Path) -> TeamConfig | None:
    for directory in _upwards(start.resolve(), root.resolve()):
        for team in config.teams.values():
            # os.path.exists, not Path.exists: a name the file system cannot hold (longer than
            # NAME_MAX or PATH_MAX: ENAMETOOLONG) or read is simply not there, never an error
            if any(os.path.exists(directory / name) for name in team.detect):
                return team
    return None


def probe_paths(config: Config, start: Path, root: Path) -> list[str]:
    """Every path whose existence ``detect_team`` may ask about (a superset of what it asks): the
    no-op fast path checks that none of them came or went."""
    names = [name for team in config.teams.values() for name in team.detect]
    return [str(directory / name) for directory in _upwards(start.resolve(), root.resolve()) for name in names]


def _upwards(start: Path, root: Path) -> list[Path]:
    """From ``start`` up to ``root``; a start outside the project means the root itself."""
    if start != root and root not in start.parents:
        return [root]
    return [start, *(p for p in start.parents if p == root or root in p.parents)]
