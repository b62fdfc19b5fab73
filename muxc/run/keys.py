"""Cache keys at build time: the plan's static recipe completed with what only a build knows.

A step's key hashes its normalised definition, its rendered text (normalised, so cosmetic edits
change nothing), the identity of the backends that answer it, the files it reads (its ``inputs``,
or the whole project for shell steps and agentic backends), its ``for_each`` item, and for an
apply step the edits it applies. Upstream outputs enter through the rendered text: an upstream
rerun with an unchanged output leaves the key unchanged (early cutoff).

Rendering costs a Jinja compile, so each key is also remembered under a *pre-key*: a hash of
everything rendering reads (raw templates, args, env values, upstream output digests, ...). A
no-op rebuild finds every pre-key and renders nothing. Steps whose templates read the clock or
randomness skip the memo.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from muxc.compile.keys import digest, digest_value, normalize_text
from muxc.compile.plan import StepPlan
from muxc.run.context import Build
from muxc.run.shellvalues import ShellCommand
from muxc.run.tracked import Tracked

# The fields whose rendered text is part of the key, per step kind.
KEY_TEMPLATES = {
    "shell": ("run",),
    "query": ("prompt", "system"),
    "store": ("prompt",),
    "input": ("prompt",),
    "apply": ("verify",),
}


def templates_of(plan: StepPlan) -> dict[str, str]:
    """The raw template texts that determine the step's result."""
    step = plan.step
    out = {}
    for field in KEY_TEMPLATES.get(plan.kind, ()):
        node = getattr(step, field)
        if node is not None:
            out[field] = node.value
    return out


def input_patterns(plan: StepPlan) -> list[str]:
    return list(plan.step.inputs)


def pre_key(build: Build, plan: StepPlan, item: Any, extras: dict[str, Any]) -> str:
    """A hash of everything the rendered text and the key are computed from."""
    read = {"workflow": build.plan.workflow} if plan.reads_workflow else {}  # absent otherwise: old pre-keys hold
    return digest_value({
        **read,
        "salt": build.plan.salt,
        "definition": plan.definition_digest,
        "templates": templates_of(plan),
        "args": build.plan.args,
        "env": _env_read(build, plan),
        "team": _team(build),
        "ecosystem": build.ecosystem,  # every value templates may read, not just the name
        "upstream": {name: build.state(name).output_digest for name in plan.consumes},
        "item": item,
        "extras": extras,
    })


def _env_read(build: Build, plan: StepPlan) -> dict[str, str | None]:
    """The environment values the step's templates can reach: all of them for a computed name."""
    if "*" in plan.env_vars:
        return dict(build.environ)
    return {name: build.environ.get(name) for name in plan.env_vars}


def _team(build: Build) -> Any:
    """The active team as templates see it (`team.description`, `team.verify`, ...)."""
    team = build.team
    if team is None:
        return None
    verify = team.verify if isinstance(team.verify, str) else None
    return {"name": team.name, "description": team.description, "detect": team.detect, "verify": verify,
            "roles": team.roles}


def full_key(build: Build, plan: StepPlan, fields: Mapping[str, Tracked | ShellCommand], item: Any,
             extras: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(key, components): the components are kept so ``muxc status`` can say what changed.

    ``upstream`` (the digests of the outputs the step read) is recorded for explanations only:
    the upstream outputs reach the key through the rendered text, which is what early cutoff needs.
    A prompt's own layout is normalised (cosmetic edits change nothing) but never what a value
    put in it; a shell command is hashed exactly, text and values, since there every space may be
    data."""
    components = {
        "salt": build.plan.salt,
        "definition": plan.definition,
        "rendered": {field: digest(value.key_material()) for field, value in sorted(fields.items())},
        "item": item,
        **extras,
    }
    key = digest_value(components)
    components["upstream"] = {name: build.state(name).output_digest for name in plan.consumes}
    return key, components


def legacy_key(build: Build, plan: StepPlan, rendered: Mapping[str, str], item: Any, extras: dict[str, Any]) -> str:
    """The key muxc gave this step before values were hashed apart from the layout (each rendered
    text normalised as a whole). Only ``executor`` uses it, to keep results cached before then."""
    return digest_value({
        "salt": build.plan.salt,
        "definition": plan.definition,
        "rendered": {field: digest(normalize_text(text)) for field, text in sorted(rendered.items())},
        "item": item,
        **extras,
    })


def output_digest(output: str, outputs: dict[str, str], failed: bool = False, skipped: bool = False) -> str:
    """What dependents see of a result: their keys change only when this does."""
    return digest_value({"output": output, "outputs": outputs, "failed": failed, "skipped": skipped})
