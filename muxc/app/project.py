"""Where a command runs (``Project``) and the workflows it can name: the lookup path, a name or a
path resolved to a file, the usage message for one that finds nothing.

Light on purpose: the no-op lane (``cli.lane``) and fast path resolve the workflow through here
before anything of the compiler is loaded.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

WORKFLOW_SUFFIXES = (".mux", ".toml")


@dataclass
class Project:
    """Where a command runs: the project root, the environment, an extra config file."""

    root: Path
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    config_path: Path | None = None

    @classmethod
    def discover(cls, directory: Path | None = None, config_path: Path | None = None,
                 environ: Mapping[str, str] | None = None) -> Project:
        from muxc.base.userdirs import find_project_root

        root = directory.resolve() if directory is not None else find_project_root(Path.cwd())
        return cls(root, dict(os.environ) if environ is None else environ, config_path)


@dataclass
class WorkflowEntry:
    name: str
    path: Path
    origin: str  # project | user | stdlib
    shadowed: bool = False  # a workflow of the same name earlier in the lookup order wins


def find_workflows(project: Project) -> list[WorkflowEntry]:
    """Every workflow file in the lookup path, in lookup order; later duplicates are shadowed."""
    from muxc.base.resources import stdlib_dir
    from muxc.base.userdirs import workflow_dirs

    entries: list[WorkflowEntry] = []
    seen: set[str] = set()
    for origin, directory in workflow_dirs(project.root, project.environ, stdlib_dir()):
        for path in sorted(directory.glob("*")) if directory.is_dir() else ():
            if path.suffix in WORKFLOW_SUFFIXES and path.is_file() and not is_test_file(path):
                entries.append(WorkflowEntry(path.stem, path, origin, shadowed=path.stem in seen))
                seen.add(path.stem)
    return entries


# Files beside workflows that are not workflows: `muxc test`'s tests and their recorded answers.
TEST_FILE_SUFFIXES = (".test.toml", ".test.mux", ".cassette.toml")


def is_test_file(path: Path) -> bool:
    return path.name.endswith(TEST_FILE_SUFFIXES)


def resolve_workflow(project: Project, name: str) -> Path | None:
    """A workflow by path (existing file) or by name through the lookup path."""
    candidate = Path(name)
    if candidate.suffix in WORKFLOW_SUFFIXES and candidate.is_file():
        return candidate
    if (project.root / candidate).is_file() and candidate.suffix in WORKFLOW_SUFFIXES:
        return project.root / candidate
    for entry in find_workflows(project):
        if entry.name == name and not entry.shadowed:
            return entry.path
    return None


def unknown_workflow(project: Project, name: str) -> str:
    """The usage message for a workflow name or path that finds nothing, with a close name if any."""
    from muxc.lang.validate import did_you_mean

    names = sorted({entry.name for entry in find_workflows(project)})
    hint = did_you_mean(name, names)
    return f"no workflow named {name!r}; " + (hint if hint else "run `muxc list` to see them, or pass a path")


def require_workflow(project: Project, name: str) -> Path:
    """The workflow's path; raises ``UnknownWorkflow`` (a usage problem) when there is none."""
    path = resolve_workflow(project, name)
    if path is None:
        raise UnknownWorkflow(unknown_workflow(project, name))
    return path


class UnknownWorkflow(LookupError):
    """A workflow name or path the lookup path does not find: the command line is wrong."""
