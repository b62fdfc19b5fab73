"""Run one step: its condition, its items, its cache key, the cache, the kind's handler, the result.

``run_step`` is what a doit task calls. It never raises for an expected failure: a failure is a
``StepFailure`` kept in the step's state (the CLI renders it as a diagnostic pointing at the step).
A result is stored the moment it exists, so an interrupted build keeps it.
"""

from __future__ import annotations

import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import msgspec

from muxc.compile.plan import StepPlan
from muxc.lang.shellscan import SHELL_FIELDS
from muxc.run import keys
from muxc.run.context import CACHED, FAILED, INTERRUPTED, NOT_REACHED, RAN, RUNNING, SKIPPED, Build, StepState
from muxc.run.outcome import Produced, StepFailure
from muxc.run.scope import NO_ITEM, template_context
from muxc.run.shellvalues import ShellCommand, render_command
from muxc.run.templating import RenderError, evaluate, render_tracked
from muxc.run.tracked import Tracked
from muxc.store.results import Latest, StepRecord, UsageRecord

WOULD_RUN = "would run"


def run_step(build: Build, name: str) -> bool:
    """The doit action: True when the build may go on past this step."""
    plan = build.step(name)
    state = build.state(name)
    state.status, state.started = RUNNING, time.time()
    build.reporter.step_started(name, plan.kind)
    try:
        _run(build, plan, state)
    except Exception as error:  # a bug in muxc must not take the build down silently
        state.failure = StepFailure("internal", f"muxc failed inside this step: {error!r}",
                                    detail=traceback.format_exc(limit=8))
        state.status = FAILED
    _interrupted(build, state)
    state.finished = time.time()
    build.reporter.step_finished(name, state)
    if state.status in (INTERRUPTED, NOT_REACHED):
        return False
    return state.status != FAILED or plan.step.continue_on_error or build.plan.continue_on_error


def _run(build: Build, plan: StepPlan, state: StepState) -> None:
    if build.cancel.is_set:
        why = "the workflow's timeout passed" if build.timed_out else "the build was interrupted"
        _fail(state, StepFailure("cancelled", f"{why} before this step ran"))
        return
    waiting = [dep for dep in plan.consumes if build.state(dep).status == WOULD_RUN]
    context = template_context(build, plan)
    if waiting:  # a dry run cannot know what they will produce
        state.status = WOULD_RUN
        state.reason = _waiting_reason(build, plan, waiting, context)
        return
    if plan.step.for_each is not None:  # `if` is then asked per item (llm-mux's rule): it may read `item`
        _run_items(build, plan, state, context)
        return
    if plan.step.if_ is not None and not _condition(build, plan, state, context):
        return
    result = _run_one(build, plan, NO_ITEM, context)
    _settle(build, plan, state, result)


def _waiting_reason(build: Build, plan: StepPlan, waiting: list[str], context: dict[str, Any]) -> str:
    """Why a step waiting on an upstream that would run would run too.

    What does not depend on the upstream output (its definition, its backends, the files it
    reads) is compared now: a change there means it runs whatever the upstream produces."""
    from muxc.run.kinds import extras_for
    from muxc.run.reasons import change_list

    after = "after " + ", ".join(f"steps.{dep}" for dep in waiting) + " runs (unless its output is the same)"
    if plan.step.for_each is not None or build.options.forces(plan.name):
        return "forced" if build.options.forces(plan.name) else after
    extras = extras_for(build, plan, None, context)
    if isinstance(extras, StepFailure):
        return after
    own = {"salt": build.plan.salt, "definition": plan.definition, **extras}
    changes = change_list(build, plan, build.latest.get(plan.name), own, {})
    return "; ".join(changes) or after


def _condition(build: Build, plan: StepPlan, state: StepState, context: dict[str, Any]) -> bool:
    try:
        value = evaluate(plan.step.if_.value, context)
    except RenderError as error:
        _fail(state, StepFailure("render", f"cannot evaluate `if`: {error}"))
        return False
    if not value:
        state.status, state.reason = SKIPPED, "its `if` is false"
        state.record = StepRecord(key="", step=plan.name, skipped=True)
        state.output_digest = keys.output_digest("", {}, skipped=True)
    return bool(value)


# --- one run (or one item) -------------------------------------------------------------


class ItemResult(msgspec.Struct):
    record: StepRecord | None = None
    failure: StepFailure | None = None
    cached: bool = False
    would_run: bool = False
    reason: str = ""
    rendered: dict[str, str] = {}
    commands: dict[str, ShellCommand] = {}
    key: str = ""
    components: dict[str, Any] = {}


def _run_one(build: Build, plan: StepPlan, item: Any, context: dict[str, Any]) -> ItemResult:
    """Decide from the cache, else render and run; the result is stored before returning."""
    from muxc.run.kinds import extras_for

    key_item = item if item is not NO_ITEM else None
    name = _latest_name(plan, item)
    decided = build.memo.pop(("decided", plan.name), None) if item is NO_ITEM else None
    if decided is not None:  # the up-to-date check worked these out moments ago
        extras, pre, known = decided
    else:
        extras = extras_for(build, plan, item, context)
        if isinstance(extras, StepFailure):
            return ItemResult(failure=extras)
        pre = keys.pre_key(build, plan, key_item, extras)
        known = None if plan.volatile or plan.reads_memory else known_key(build, name, pre)
    if known is not None and _usable(build, plan, known):
        return _cached(build, plan, name, pre, known)
    try:
        fields = _render(plan, context)
    except RenderError as error:
        return ItemResult(failure=StepFailure("render", str(error)))
    rendered = {field: value.shown for field, value in fields.items()}
    commands = {field: value for field, value in fields.items() if isinstance(value, ShellCommand)}
    key, components = keys.full_key(build, plan, fields, key_item, extras)
    if not plan.volatile:
        build.store.remember(pre, key)
    if _usable(build, plan, key) or _adopt_legacy(build, plan, keys.legacy_key(build, plan, rendered, key_item,
                                                                                 extras), key, components, rendered):
        return _cached(build, plan, name, pre, key, rendered)
    reason = _why(build, plan, name, components, rendered)
    if build.options.dry_run:
        return ItemResult(would_run=True, reason=reason, rendered=rendered, key=key, components=components)
    if build.options.replay:
        return ItemResult(failure=StepFailure("cache-miss", f"not in the cache and --replay forbids running it "
                                                             f"({reason})"), key=key)
    result = _execute(build, plan, rendered, context, item, key, commands)
    if isinstance(result, StepFailure):
        return ItemResult(failure=result, reason=reason, rendered=rendered, key=key)
    with build.store.batch():  # one commit: the result, its latest row, its memo entry
        record = _store(build, plan, key, result, components, rendered)
        note_latest(build, name, key, pre, _digest(record), record.created_at)
    return ItemResult(record=record, reason=reason, rendered=rendered, key=key)


def _execute(build: Build, plan: StepPlan, rendered: dict[str, str], context: dict[str, Any], item: Any, key: str,
             commands: dict[str, ShellCommand]) -> Produced | StepFailure:
    """The executor seam: the kind's handler, here, or on a cluster worker when the build has an
    executor that takes the step (``--executor dask``: query and shell steps)."""
    from muxc.run.kinds import handler_for

    if build.executor is not None and build.executor.takes(plan):
        return build.executor.run(build, plan, rendered, item, key=key, commands=commands)
    return handler_for(plan.kind)(build, plan, rendered, context, item, key=key, commands=commands)


def _adopt_legacy(build: Build, plan: StepPlan, legacy: str, key: str, components: dict[str, Any],
                  rendered: dict[str, str]) -> bool:
    """A result cached by muxc before keys kept values apart from layout (``keys.legacy_key``) is
    filed under the step's key now, so an upgrade does not pay for unchanged LLM calls again.
    True when it was: the step's key is then usable (the same result, the same age)."""
    if legacy == key or not _usable(build, plan, legacy):
        return False
    record = build.store.get(legacy)
    if record is None:
        return False
    build.store.put(msgspec.structs.replace(record, key=key), build.plan.workflow, _digest(record), components,
                    rendered)
    return True


def known_key(build: Build, name: str, pre: str) -> str | None:
    """The key a pre-key led to: the step's last build if it matches, else the memo; never one
    whose result must not be served (``ResultStore.distrusted``: the step runs the slow way)."""
    latest = build.latest.get(name)
    key = latest.key if latest is not None and latest.pre_key == pre else build.store.memo(pre)
    return None if key is None or build.store.distrusted(key) else key


def note_latest(build: Build, name: str, key: str, pre: str, digest: str, created_at: float) -> None:
    """Record the step's latest build, keeping what muxc last wrote to its saved file."""
    before = build.latest.get(name)
    if before is not None and (before.key, before.pre_key) == (key, pre):
        return
    latest = Latest(key, pre, digest, created_at, before.target if before else None,
                    before.target_digest if before else None)
    build.store.set_latest(build.plan.workflow, name, latest)
    build.latest[name] = latest


def _usable(build: Build, plan: StepPlan, key: str) -> bool:
    if build.options.forces(plan.name) or plan.step.always:  # `always = true`: runs on every build
        return False
    found = build.store.lookup(key)
    if found is None:
        return False
    ttl = plan.cache_ttl_ms
    return ttl is None or (ttl > 0 and (time.time() - found[1]) * 1000 < ttl)


def _cached(build: Build, plan: StepPlan, name: str, pre: str, key: str,
            rendered: dict[str, str] | None = None) -> ItemResult:
    record = build.store.get(key)
    if record is None:  # removed meanwhile (muxc clean in another shell): run it
        return ItemResult(failure=StepFailure("cache-miss", "its cached result disappeared; build again"))
    if not plan.volatile:
        note_latest(build, name, key, pre, _digest(record), record.created_at)
    return ItemResult(record=record, cached=True, rendered=rendered or {}, key=key)


def _render(plan: StepPlan, context: dict[str, Any]) -> dict[str, Tracked | ShellCommand]:
    """Each keyed field rendered: prompts with their values tracked, commands with references."""
    return {field: render_command(text, context) if field in SHELL_FIELDS else render_tracked(text, context)
            for field, text in keys.templates_of(plan).items()}


def _store(build: Build, plan: StepPlan, key: str, produced: Produced, components: dict[str, Any],
           rendered: dict[str, str]) -> StepRecord:
    usage = UsageRecord(produced.usage.input_tokens, produced.usage.cached_input_tokens,
                        produced.usage.output_tokens, produced.cost_usd)
    record = StepRecord(key=key, step=plan.name, output=produced.output, outputs=produced.outputs,
                        backend=produced.backend, backends=produced.backends, duration_ms=produced.duration_ms,
                        usage=usage, created_at=time.time())
    build.store.put(record, build.plan.workflow, _digest(record), components, rendered)
    return record


def _digest(record: StepRecord) -> str:
    return keys.output_digest(record.output, record.outputs, record.failed, record.skipped)


def _latest_name(plan: StepPlan, item: Any) -> str:
    if item is NO_ITEM:
        return plan.name
    from muxc.compile.keys import digest_value

    return f"{plan.name}[{digest_value(item)[:12]}]"


def _why(build: Build, plan: StepPlan, name: str, components: dict[str, Any], rendered: dict[str, str]) -> str:
    from muxc.run.reasons import explain_change

    if build.options.forces(plan.name):
        return "forced"
    if plan.volatile and plan.step.always:
        return "volatile (always = true)"
    changes = explain_change(build, plan, build.latest.get(name), components, rendered)
    if plan.cache_ttl_ms == 0 and changes == "its cached result expired":
        return 'never reused (cache = "never")'
    return changes


# --- for_each --------------------------------------------------------------------------


def _run_items(build: Build, plan: StepPlan, state: StepState, context: dict[str, Any]) -> None:
    try:
        items = evaluate(plan.step.for_each.value, context)
    except RenderError as error:
        _fail(state, StepFailure("render", f"cannot evaluate `for_each`: {error}"))
        return
    if isinstance(items, str):  # as llm-mux: a JSON array in the text, else its non-blank lines
        from muxc.lang.llmjson import parse_list_items

        items = parse_list_items(items)
    if isinstance(items, dict) or not hasattr(items, "__iter__"):
        _fail(state, StepFailure("render", f"`for_each` gave {type(items).__name__}, not a list",
                                 hint="iterate a table's keys with `| list`, or its entries with `| dictsort`"))
        return
    items = _wanted_items(plan, list(items), context)
    if isinstance(items, StepFailure):
        _fail(state, items)
        return
    distinct = _distinct(items)  # equal items share a key: each is run (and paid for) once
    workers = max(1, min(build.options.jobs, len(distinct)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        ran = list(pool.map(lambda value: _run_one(build, plan, value, {**context, "item": value}), distinct.values()))
    by_item = dict(zip(distinct, ran, strict=True))
    _settle_items(build, plan, state, [by_item[_item_id(value)] for value in items])


def _item_id(item: Any) -> str:
    from muxc.compile.keys import digest_value

    return digest_value(item)


def _distinct(items: list[Any]) -> dict[str, Any]:
    """The items by identity (their digest), each once, in first-seen order."""
    distinct: dict[str, Any] = {}
    for value in items:
        distinct.setdefault(_item_id(value), value)
    return distinct


def _wanted_items(plan: StepPlan, items: list[Any], context: dict[str, Any]) -> list[Any] | StepFailure:
    """The items whose `if` holds (every item when the step has no `if`)."""
    if plan.step.if_ is None:
        return items
    kept = []
    for value in items:
        try:
            if evaluate(plan.step.if_.value, {**context, "item": value}):
                kept.append(value)
        except RenderError as error:
            return StepFailure("render", f"cannot evaluate `if` for item {value!r}: {error}")
    return kept


def _settle_items(build: Build, plan: StepPlan, state: StepState, results: list[ItemResult]) -> None:
    failures = [r.failure for r in results if r.failure is not None]
    if failures:
        first = failures[0]
        _fail(state, StepFailure(first.kind, f"{len(failures)} of {len(results)} items failed; the first: "
                                 f"{first.message}", command=first.command, exit_code=first.exit_code,
                                 stderr_tail=first.stderr_tail))
        return
    if any(r.would_run for r in results):
        state.status = WOULD_RUN
        state.reason = f"{sum(r.would_run for r in results)} of {len(results)} items would run"
        return
    records = [r.record for r in results if r.record is not None]
    outputs = {str(i): rec.output for i, rec in enumerate(records)}
    output = "\n".join(rec.output for rec in records)
    key = keys.digest_value({"items": [rec.key for rec in records]}) if records else "empty"
    record = StepRecord(key=key, step=plan.name, output=output, outputs=outputs,
                        backends=sorted({b for rec in records for b in rec.backends}),
                        items=[rec.key for rec in records], created_at=time.time())
    ran = sum(1 for r in {id(r): r for r in results}.values() if not r.cached)  # equal items ran once
    state.status, state.reason = _items_status(build, plan, key, ran, len(results))
    if state.status == RAN and build.options.dry_run:  # only the set of items changed: the step is quick
        state.status = WOULD_RUN
    if not build.options.dry_run:  # the step's own row: what its saved file and the next build compare with
        note_latest(build, plan.name, key, "", _digest(record), record.created_at)
    _accept(build, plan, state, record)


def _items_status(build: Build, plan: StepPlan, key: str, ran: int, count: int) -> tuple[str, str]:
    """RAN when an item ran or the set of items changed (its output is new), else CACHED."""
    if ran:
        return RAN, f"{ran} of {count} items ran"
    latest = build.latest.get(plan.name)
    if latest is not None and latest.key == key:
        return CACHED, ""
    if latest is None:
        return RAN, "no items" if not count else "never built (every item was cached)"
    return RAN, "no items now" if not count else f"its items changed ({count}, every one cached)"


def _settle(build: Build, plan: StepPlan, state: StepState, result: ItemResult) -> None:
    state.rendered, state.key, state.components = result.rendered, result.key, result.components
    if result.failure is not None:
        state.reason = result.reason
        _fail(state, result.failure)
    elif result.would_run:
        state.status, state.reason = WOULD_RUN, result.reason
    elif result.record is not None:
        state.status = CACHED if result.cached else RAN
        state.reason = result.reason
        _accept(build, plan, state, result.record)


def _accept(build: Build, plan: StepPlan, state: StepState, record: StepRecord) -> None:
    state.record = record
    state.output_digest = _digest(record)
    state.cost_usd = record.usage.cost_usd
    refused = build.refused_saves.get(plan.name)
    if refused is not None:  # the result is stored; nothing is written anywhere
        _fail(state, StepFailure("save", f"{refused}; nothing was written",
                                 hint="its result is in the cache: fix the save path (or the argument that sets "
                                      "it) and build again (the step does not run again)"))
        return
    if plan.name in build.targets:
        from muxc.run.targets import target_note, write_target

        if build.options.dry_run:  # status and --dry-run look at saved files, they never write them
            state.reason = target_note(build, plan, state) or state.reason
            return
        try:
            problem = write_target(build, plan, state)
        except OSError as error:  # the result is stored: the next build writes it without rerunning
            path = build.targets[plan.name]
            shown = path.relative_to(build.root) if path.is_relative_to(build.root) else path
            _fail(state, StepFailure("save", f"cannot write its saved file {shown}: {error.strerror or error}",
                                     hint="its result is in the cache: fix the path and build again "
                                          "(the step does not run again)"))
            return
        if problem is not None:
            build.reporter.note(problem)


def _fail(state: StepState, failure: StepFailure) -> None:
    state.status, state.failure = FAILED, failure
    state.output_digest = keys.output_digest(failure.output, {}, failed=True)


def _interrupted(build: Build, state: StepState) -> None:
    """Ctrl-C is no failure of the step: one it stopped says "interrupted", one it kept from
    starting "not reached" (a passed workflow timeout stays a failure)."""
    failure = state.failure
    if state.status != FAILED or failure is None or failure.kind != "cancelled" or build.timed_out:
        return
    state.status = NOT_REACHED if failure.message.endswith("before this step ran") else INTERRUPTED


def mark_not_reached(build: Build) -> None:
    """After the build: steps that never started were not reached; the ones still running when
    Ctrl-C came (their threads did not finish in time) were interrupted."""
    for state in build.states.values():
        if state.status == RUNNING and build.cancel.is_set:
            state.status = INTERRUPTED
        elif state.status in ("pending", RUNNING):
            state.status = NOT_REACHED
