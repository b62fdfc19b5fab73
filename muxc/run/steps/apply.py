"""Apply steps: take edits from the source step's output, apply them, verify, retry, roll back.

Each attempt: parse the edits, plan them (every edit checked before any file is written),
snapshot the files they touch (before the first attempt; later attempts extend it), apply, run
``verify`` (the step's, else the team's). When verify fails, the files go back to their pre-step
bytes and the source step's role is asked again with the original request, the edits and the
verifier's output (``verify_retry_prompt``); parse and apply failures are fed back the same way.
After the last failed attempt the files are restored when ``rollback_on_failure`` is set;
otherwise the last attempt stays and the failure says so. Git is never used on the user's files.

The key covers the source's output and the touched files' pre-state; once applied, a rebuild
sees the files in the recorded post-state and does not apply again. Files put back in their
pre-step state after a successful apply (the user undid it) get a new key: the edits are applied
again from the cached source output, without asking the LLM.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import msgspec

from muxc.compile.plan import StepPlan
from muxc.run.context import Build
from muxc.run.outcome import Produced, StepFailure
from muxc.run.shellvalues import ShellCommand

# `error` says what went wrong: the verifier's output, or why the edits could not be parsed or
# applied (then nothing was written), so this text must not claim the edits were applied.
DEFAULT_RETRY_PROMPT = """{{ original }}

Your previous edits did not work.

Previous edits:
{{ edits }}

What went wrong:
{{ error }}

Reply with corrected edits for the original files (any change your edits made has been undone)."""
HEADLINE_CHARS = 200


def source_name(plan: StepPlan) -> str:
    return (plan.step.source or "").removeprefix("steps.")


def _source_output(build: Build, plan: StepPlan) -> str:
    from muxc.run.scope import view_of

    return view_of(build, source_name(plan)).output  # loads a result the fast path left unread


def extras(build: Build, plan: StepPlan, context: dict[str, Any]) -> dict[str, Any]:
    """The key: the source's output and the touched files' state, read against the last apply.

    Files still as the last successful apply left them give that apply's key again (cached, not
    applied twice). Files put back in the state that apply started from (the user undid it)
    give a new key, so the edits are applied again: a cached result must describe the files."""
    from muxc.edits import EditSet, fingerprint, parse_edits, state_fingerprint

    source = build.state(source_name(plan)).output_digest
    parsed = parse_edits(_source_output(build, plan))
    if not isinstance(parsed, EditSet):
        return {"source": source, "files": "unparsed"}
    files = fingerprint(build.root, parsed)
    last = _last_apply(build, plan)
    if last is None or last.source != source:
        return {"source": source, "files": files}
    if state_fingerprint(build.root, last.paths) == last.post:
        return {"source": source, "files": last.files}  # already applied
    if files == last.files.partition(UNDONE)[0]:
        return {"source": source, "files": f"{files}{UNDONE}{last.key}"}
    return {"source": source, "files": files}


UNDONE = ":undone-after:"


class _LastApply(msgspec.Struct, frozen=True):
    key: str
    source: str
    files: str  # its key's files component
    post: str  # the state it left the files in
    paths: list[str]


def _last_apply(build: Build, plan: StepPlan) -> _LastApply | None:
    latest = build.latest.get(plan.name)
    record = build.store.get(latest.key) if latest else None
    if latest is None or record is None or "post" not in record.outputs:
        return None
    meta, _ = build.store.details(latest.key)
    return _LastApply(latest.key, meta.get("source", ""), meta.get("files", ""), record.outputs["post"],
                      record.outputs.get("paths", "").split("\n"))


def run(build: Build, plan: StepPlan, rendered: dict[str, str], context: dict[str, Any], item: Any,
        key: str = "", commands: Mapping[str, ShellCommand] | None = None) -> Produced | StepFailure:
    # One apply at a time per build: two applies in parallel could edit the same file, and one's
    # rollback would write its snapshot over the other's applied edits (and each verify would see
    # the other's half-done state). Held across re-asks, so a snapshot stays true until the end.
    lock = _apply_lock(build)
    while not lock.acquire(timeout=0.1):
        if build.cancel.is_set:
            return StepFailure("cancelled", "interrupted while waiting for another apply step to finish")
    try:
        return _Attempts(build, plan, commands or {}, context).run()
    finally:
        lock.release()


def _apply_lock(build: Build) -> threading.Lock:
    with build.lock:
        return build.memo.setdefault("apply steps", threading.Lock())


class _Attempts:
    def __init__(self, build: Build, plan: StepPlan, commands: Mapping[str, ShellCommand],
                 context: dict[str, Any]) -> None:
        self.build, self.plan, self.context = build, plan, context
        own = commands.get("verify")
        self.verify = own if own is not None and own.text.strip() else _team_verify(build)
        self.output = _source_output(build, plan)
        self.snapshot: Any = None
        self.journal: Any = None  # the snapshot on disk, for a build killed mid-apply (see run.applyjournal)
        self.history: list[str] = []
        self.wrote: tuple[str, ...] = ()  # the files the latest attempt wrote (and left in place)

    def run(self) -> Produced | StepFailure:
        try:
            return self._attempts()
        except BaseException:  # Ctrl-C lands here mid-attempt when the step runs on the main thread (-j 1)
            if self.plan.step.rollback_on_failure:
                self._restore()
            raise
        finally:
            if self.journal is not None:  # the files are settled, one way or the other
                from muxc.run import applyjournal

                applyjournal.clear(self.build.state_dir)

    def _attempts(self) -> Produced | StepFailure:
        attempts = self.plan.step.verify_retries + 1
        problem = ""
        for attempt in range(1, attempts + 1):
            self.wrote = ()
            result = self._attempt()
            if isinstance(result, Produced):
                return result
            problem = result
            self.history.append(_headline(problem))
            if self.build.cancel.is_set:  # interrupted: no more attempts, no more questions
                return self._final(problem, kind="cancelled")
            if attempt < attempts:
                undone = self._restore()
                if undone is not None and not undone.ok:
                    return self._final(problem, undone)
                asked = self._reask(problem)
                if isinstance(asked, StepFailure):
                    return self._final(f"asking {source_name(self.plan)}'s role again failed: {asked.message}")
        return self._final(problem)

    def _attempt(self) -> Produced | str:
        from muxc.edits import ApplyFailure, EditSet, apply, parse_edits, plan, post_fingerprint

        parsed = parse_edits(self.output)
        if not isinstance(parsed, EditSet):
            return f"the edits could not be parsed: {parsed.message}"
        planned = plan(self.build.root, parsed, self.plan.step.allow_tool_files)
        if isinstance(planned, ApplyFailure):
            return f"the edits could not be applied: {planned.message}"
        self._snapshot(planned.paths)
        self._journal(planned)
        applied = apply(planned)
        if isinstance(applied, ApplyFailure):
            return f"the edits could not be written: {applied.message}"
        self.wrote = planned.paths
        failure = self._verify()
        if failure is not None:
            return failure
        outputs = {"post": post_fingerprint(planned), "paths": "\n".join(planned.paths)}
        return Produced(f"{applied.summary}\n\n{applied.diff}".rstrip() + "\n", outputs)

    def _snapshot(self, paths: tuple[str, ...]) -> None:
        from muxc.edits import Snapshot

        self.snapshot = Snapshot.take(self.build.root, paths) if self.snapshot is None else self.snapshot.extend(paths)

    def _journal(self, planned: Any) -> None:
        """Put the snapshot and what this attempt will write on disk before it writes anything."""
        from muxc.run import applyjournal

        journal = self.journal or applyjournal.Journal(self.build.plan.workflow, self.plan.name, self.snapshot)
        journal = msgspec.structs.replace(journal, snapshot=self.snapshot)
        self.journal = applyjournal.with_writes(journal, ((change.path, change.after) for change in planned.changes))
        try:
            applyjournal.save(self.build.state_dir, self.journal)
        except OSError as error:  # the in-memory rollback still works; only a kill -9 would leave edits
            self.build.reporter.note(f"{self.plan.name}: cannot save the apply journal in .muxc/state "
                                     f"({error.strerror or error}); a build killed now would leave its edits")

    def _verify(self) -> str | None:
        if self.verify is None or not self.verify.text.strip():
            return None
        from muxc.run.steps.shell import run_command

        result = run_command(self.build, self.verify, self.plan.step.verify_timeout or 300_000)
        if result.ok:
            return None
        why = "timed out" if result.stopped == "timeout" else "was stopped: the build was interrupted" \
            if result.stopped == "cancelled" or self.build.cancel.is_set else \
            result.error or f"exited with code {result.exit_code}"
        return f"verify `{self.verify.shown}` {why}:\n{(result.stdout + result.stderr).strip()[-4000:]}"

    def _restore(self) -> Any:
        """Undo every attempt so far (a RestoreReport), or None when nothing was ever written."""
        if self.snapshot is None:
            return None
        self.wrote = ()
        return self.snapshot.restore()

    def _reask(self, error: str) -> str | StepFailure:
        from muxc.run.steps.query import ask_again

        source = self.build.step(source_name(self.plan))
        asked = _source_rendered(self.build, source.name)
        prompt = self._retry_prompt(asked.get("prompt", ""), error)
        answer = ask_again(self.build, source, prompt, asked.get("system"))
        if isinstance(answer, StepFailure):
            return answer
        self.output = answer
        return answer

    def _retry_prompt(self, original: str, error: str) -> str:
        from muxc.run.templating import RenderError, render

        template = self.plan.step.verify_retry_prompt.value if self.plan.step.verify_retry_prompt else \
            DEFAULT_RETRY_PROMPT
        values = {**self.context, "original": original, "edits": self.output, "error": error}
        try:
            return render(template, values)
        except RenderError:
            return render(DEFAULT_RETRY_PROMPT, values)

    def _final(self, problem: str, undone: Any = None, kind: str = "edits") -> StepFailure:
        """Every attempt failed: restore (when asked to), and say what was tried and where the files are."""
        rollback = self.plan.step.rollback_on_failure
        if undone is None and rollback:
            undone = self._restore()
        if undone is not None and not undone.ok:
            state = "the files could NOT all be restored: " + "; ".join(undone.problems)
        elif self.wrote:
            state = f"the last attempt's edits are left in place (rollback_on_failure is off): {', '.join(self.wrote)}"
        elif self.snapshot is not None and rollback:
            state = self._restored(undone)
        else:
            state = "no file is changed" + (" (every attempt's edits were undone)" if self.snapshot is not None else "")
        count = len(self.history)
        tried = "".join(f"  attempt {number}: {line}\n" for number, line in enumerate(self.history, 1))
        what = "interrupted" if kind == "cancelled" else f"all {count} attempts failed" if count > 1 else \
            "the edits failed"
        message = f"{what}; {state}\n{tried}the last error:\n{problem}" if count > 1 else f"{what}; {state}\n{problem}"
        hint = None if rollback or not self.wrote else \
            "set rollback_on_failure = true to restore the files when all attempts fail"
        return StepFailure(kind, message, hint=hint)

    def _restored(self, undone: Any) -> str:
        existed = [record.path for record in self.snapshot.records if record.existed]
        created = [record.path for record in self.snapshot.records if not record.existed]
        said = "every file the edits touched is back to its pre-step bytes"
        said += f" ({', '.join(existed)})" if existed else ""
        said += f", and the files they created are removed ({', '.join(created)})" if created else ""
        if undone is not None and undone.kept_dirs:
            said += f"; directories kept because they now hold other files: {', '.join(undone.kept_dirs)}"
        return said


def _headline(problem: str) -> str:
    """A problem in one line for the list of attempts: its first line and the first line of detail."""
    lines = [line.strip() for line in problem.splitlines() if line.strip()]
    text = " ".join(lines[:2])
    return text if len(text) <= HEADLINE_CHARS else text[: HEADLINE_CHARS - 1] + "…"


def _team_verify(build: Build) -> ShellCommand | None:
    team = build.team
    verify = getattr(team, "verify", None) if team is not None else None
    return ShellCommand.literal(verify) if isinstance(verify, str) else None


def _source_rendered(build: Build, step: str) -> dict[str, str]:
    """The source's rendered prompt and system: from this build, else from the result it was served from."""
    rendered = build.state(step).rendered
    if rendered.get("prompt"):
        return rendered
    latest = build.latest.get(step)
    return build.store.details(latest.key)[1] if latest else {}


def preview(build: Build, plan: StepPlan) -> str:
    """The diff the step would make now (for --dry-run), or why it cannot."""
    from muxc.edits import ApplyFailure, EditSet, parse_edits
    from muxc.edits import plan as plan_edits

    source = source_name(plan)
    if build.state(source).status == "would run":  # its edits are not known yet
        return f"(not known until steps.{source} runs and answers with the edits)"
    parsed = parse_edits(_source_output(build, plan))
    if not isinstance(parsed, EditSet):
        return f"(the source output holds no edits: {parsed.message})"
    planned = plan_edits(build.root, parsed, plan.step.allow_tool_files)
    if isinstance(planned, ApplyFailure):
        return f"(the edits would not apply: {planned.message})"
    from muxc.edits.render import unified_diff

    return unified_diff(planned.changes)
