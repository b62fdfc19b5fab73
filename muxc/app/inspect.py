"""The backend layer and the stores, inspected: what ``doctor``, ``backends``, ``logs`` and
``memory`` show, as data. Nothing here prints; the CLI does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from muxc.base.userdirs import user_data_dir


def doctor(project: Any, config: Any, probe: bool, workflows: list[Path] | None = None) -> list[Any]:
    """Can each backend in use answer (``probe``: with a one-token request too)? In use: reached
    by a role some workflow asks (``workflows``, default: every one of the project's and the
    user's) or, without ``workflows``, by a role a config file declares. The others are listed as
    unused, unchecked: a backend nothing asks cannot fail a build. The stdlib's workflows count
    only when named: a fresh project whose built-in roles route to the built-in model does not
    fail ``muxc doctor`` because of a workflow nobody builds (the build itself says what to do)."""
    import msgspec

    from muxc.backends.doctor import check_all

    used = backends_in_use(project, config, workflows)
    results = check_all(config, project_root=project.root, environ=project.environ, probe=probe, used=used)
    stdlib = backends_in_use(project, config, _stdlib_workflows(project)) - used if workflows is None else set()
    return [msgspec.structs.replace(result, detail=STDLIB_ONLY) if result.backend in stdlib
            and result.status == "unused" else result for result in results]


STDLIB_ONLY = "only stdlib workflows reach it; not checked (`muxc doctor WORKFLOW` checks one)"


def backends_in_use(project: Any, config: Any, workflows: list[Path] | None = None) -> set[str]:
    from muxc.app.api import Report, find_workflows, parse_file, roles_used
    from muxc.config.build import backends_of_roles, with_workflow_roles

    paths = workflows if workflows is not None else [
        e.path for e in find_workflows(project) if not e.shadowed and e.origin != "stdlib"]
    declared = [name for name, role in config.roles.items() if role.origin is not None] if workflows is None else []
    used = set(backends_of_roles(config, declared))
    for path in paths:
        workflow = parse_file(path, Report())
        if workflow is not None:
            used |= set(backends_of_roles(with_workflow_roles(config, workflow.roles), roles_used(workflow.steps)))
    return used


def _stdlib_workflows(project: Any) -> list[Path]:
    from muxc.app.api import find_workflows

    return [e.path for e in find_workflows(project) if not e.shadowed and e.origin == "stdlib"]


def backend_rows(config: Any, root: Path) -> list[dict[str, Any]]:
    """One row per configured backend, with a managed one's measured start cost."""
    costs = _start_costs(root)
    return [_backend_row(backend, costs) for backend in config.backends.values()]


def _backend_row(config: Any, costs: dict[str, Any]) -> dict[str, Any]:
    from muxc.backends.identity import identity, is_managed, reads_project

    try:
        described = identity(config)
    except Exception as error:
        described = {"kind": "invalid", "error": str(error)}
    return {"name": config.name, "enabled": config.enabled, "kind": described.get("kind"),
            "model": described.get("model"), "endpoint": described.get("base_url") or described.get("command"),
            "reads_project": reads_project(config) if described.get("kind") != "invalid" else None,
            "max_concurrent": config.max_concurrent, "managed": is_managed(config),
            **_start_cost(config, costs.get(config.name)),
            "defined_in": config.origin.file if config.origin else "<built-in>"}


def _start_costs(root: Path) -> dict[str, Any]:
    """Average start costs of managed backends in this project (``.muxc/state/backends.json``)."""
    from muxc.backends.managed.costs import COSTS_FILE, CostBook

    return CostBook(root / ".muxc" / "state" / COSTS_FILE).all()


def _start_cost(config: Any, measured: Any) -> dict[str, Any]:
    """The measured average, else the config's ``switch_cost_hint`` (seconds) until a start is measured."""
    if measured is not None:
        return {"start_cost_s": measured.average_s, "starts": measured.starts}
    hint = config.managed.switch_cost_hint if config.managed is not None else None
    return {"start_cost_s": hint, "starts": 0}


def recent_calls(environ: Any, limit: int, backend: str | None, step: str | None) -> list[Any] | None:
    """The newest LLM calls of the log, or None when nothing was ever logged."""
    from muxc.store.llm_log import LlmLog

    path = user_data_dir(environ) / "llm-log.db"
    if not path.exists():
        return None
    with LlmLog(path) as log:
        return log.recent(limit, backend=backend, step=step)


def memory_export(environ: Any, ecosystem: str) -> dict[str, Any]:
    """Everything in an ecosystem's memory database; empty tables when store steps never wrote one."""
    from muxc.store.memory import empty_export

    found = open_memory(environ, ecosystem)
    if found is None:
        return empty_export(ecosystem)
    with found as db:
        return db.export()


def open_memory(environ: Any, ecosystem: str) -> Any:
    """The memory database of an ecosystem, or None when store steps never wrote one."""
    from muxc.store.memory import MemoryDB

    data = user_data_dir(environ)
    if not (data / "memory" / f"{ecosystem}.db").exists():
        return None
    return MemoryDB.open(data, ecosystem)
