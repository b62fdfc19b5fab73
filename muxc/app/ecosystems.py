"""Which ecosystem and project a directory belongs to, and the ``ecosystem`` template value.

A project matches when the canonical project directory is its configured ``path`` or lies
inside it. Unlike llm-mux (first match in HashMap order, reference §1.10), the **longest** matching
path wins, so the nearest of nested projects is chosen, and ties are broken by
``(ecosystem name, project name)``: the result never depends on dict order.

Paths: ``~`` and ``~/…`` expand with the ``home`` the caller passes (never the process
environment); a relative path is taken from the directory of the config file that declared it;
symlinks are resolved. Projects whose path does not exist are skipped, as in llm-mux.

Invariants: reads only the file system's view of paths (``exists``, ``resolve``); no printing;
results are frozen structs whose template view is plain dicts and lists.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:  # annotations only: detection must not pull in the config loader's imports
    from muxc.config.schema import EcosystemConfig, ProjectConfig


class ProjectInfo(msgspec.Struct, frozen=True):
    """A project as templates see it; absent texts are empty strings so they render cleanly."""

    name: str
    path: str
    type: str
    depends_on: list[str]
    tags: list[str]
    description: str


class DetectedEcosystem(msgspec.Struct, frozen=True):
    """The ecosystem containing the project directory; ``projects`` is sorted by name."""

    name: str
    description: str
    knowledge: list[str]
    projects: list[ProjectInfo]
    current_project: ProjectInfo

    def as_template_value(self) -> dict[str, Any]:
        """Fresh plain dicts and lists, safe to hand to the template engine."""
        return msgspec.to_builtins(self)


class ProjectRow(msgspec.Struct, frozen=True):
    """One project in a ``muxc ecosystems`` listing."""

    name: str
    path: str  # expanded and resolved; as written when it cannot be resolved
    exists: bool
    current: bool  # the project detected for the directory given to ecosystem_summary
    type: str
    tags: list[str]
    depends_on: list[str]
    problems: list[str]  # "path does not exist", "depends on unknown project 'x'"


class EcosystemRow(msgspec.Struct, frozen=True):
    name: str
    description: str
    knowledge: list[str]
    projects: list[ProjectRow]
    current: bool


def detect_ecosystem(
    project_dir: str | Path, ecosystems: dict[str, EcosystemConfig], home: str | Path
) -> DetectedEcosystem | None:
    """The ecosystem whose nearest project contains ``project_dir``, or None."""
    best = _best_match(Path(project_dir).resolve(), ecosystems, Path(home))
    if best is None:
        return None
    ecosystem, project = best
    return _detected(ecosystems[ecosystem], project, Path(home))


def ecosystem_summary(
    ecosystems: dict[str, EcosystemConfig], home: str | Path, project_dir: str | Path | None = None
) -> list[EcosystemRow]:
    """Every ecosystem and project, sorted by name, with path checks; pure data for the CLI."""
    home = Path(home)
    best = _best_match(Path(project_dir).resolve(), ecosystems, home) if project_dir else None
    return [_ecosystem_row(name, ecosystems[name], home, best) for name in sorted(ecosystems)]


def project_path(project: ProjectConfig, home: Path) -> Path | None:
    """The project's canonical path, or None when it cannot be resolved to an absolute path."""
    raw = project.path
    if raw == "~" or raw.startswith("~/"):
        raw = str(home) + raw[1:]
    path = Path(raw)
    if not path.is_absolute():
        if project.origin is None:
            return None  # relative to nothing we know: refuse to guess the process cwd
        path = Path(project.origin.file).parent / path
    return path.resolve()


def _best_match(
    directory: Path, ecosystems: dict[str, EcosystemConfig], home: Path
) -> tuple[str, str] | None:
    """(ecosystem, project) of the longest existing project path containing ``directory``."""
    matches = []
    for eco_name, ecosystem in ecosystems.items():
        for project_name, project in ecosystem.projects.items():
            path = project_path(project, home)
            if path is not None and os.path.exists(path) and directory.is_relative_to(path):
                # Most path parts first, then names: nearest wins, ties are deterministic.
                matches.append((-len(path.parts), eco_name, project_name))
    if not matches:
        return None
    _, eco_name, project_name = min(matches)
    return eco_name, project_name


def _detected(ecosystem: EcosystemConfig, current: str, home: Path) -> DetectedEcosystem:
    projects = {name: _project_info(name, p, home) for name, p in ecosystem.projects.items()}
    return DetectedEcosystem(
        name=ecosystem.name,
        description=ecosystem.description,
        knowledge=list(ecosystem.knowledge),
        projects=[projects[name] for name in sorted(projects)],
        current_project=projects[current],
    )


def _project_info(name: str, project: ProjectConfig, home: Path) -> ProjectInfo:
    return ProjectInfo(
        name=name,
        path=_display_path(project, home),
        type=project.type or "",
        depends_on=list(project.depends_on),
        tags=list(project.tags),
        description=project.description or "",
    )


def _display_path(project: ProjectConfig, home: Path) -> str:
    path = project_path(project, home)
    return str(path) if path is not None else project.path


def _ecosystem_row(
    name: str, ecosystem: EcosystemConfig, home: Path, best: tuple[str, str] | None
) -> EcosystemRow:
    current = best[1] if best and best[0] == name else None
    return EcosystemRow(
        name=name,
        description=ecosystem.description,
        knowledge=list(ecosystem.knowledge),
        projects=[_project_row(ecosystem, p, home, p == current) for p in sorted(ecosystem.projects)],
        current=current is not None,
    )


def _project_row(ecosystem: EcosystemConfig, name: str, home: Path, current: bool) -> ProjectRow:
    project = ecosystem.projects[name]
    path = project_path(project, home)
    exists = path is not None and os.path.exists(path)  # a path too long to exist is not there: no OSError
    return ProjectRow(
        name=name,
        path=_display_path(project, home),
        exists=exists,
        current=current,
        type=project.type or "",
        tags=list(project.tags),
        depends_on=list(project.depends_on),
        problems=_project_problems(ecosystem, project, path, exists),
    )


def _project_problems(
    ecosystem: EcosystemConfig, project: ProjectConfig, path: Path | None, exists: bool
) -> list[str]:
    problems = []
    if path is None:
        problems.append("relative path with no config file to resolve it against")
    elif not exists:
        problems.append("path does not exist")
    problems.extend(
        f"depends on unknown project '{dep}'" for dep in project.depends_on if dep not in ecosystem.projects
    )
    return problems
