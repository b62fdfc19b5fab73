"""``sh -n`` and shellcheck on the shell commands of workflows, as warnings at the exact span.

``muxc check`` hands each workflow over right after parsing it (``ShellJudge``): the tools run
while its pure checks do, and their verdicts are reported after those. Each shell step's ``run``
and apply step's ``verify`` is read as the shell will read it (``check.shellsyntax``: values
written as the references the build writes); ``sh -n`` (the ``sh`` the build runs commands with)
parses it without running it (a plain command, ``app.shellplain``, is known to parse without
asking sh), and shellcheck, when it is on PATH, lints it as POSIX sh. Their lines and columns map
back into the workflow file. A problem is a warning (``shell-syntax``, ``shellcheck``):
the command may rely on a shell muxc does not know about, and the build is the judge.

Results are remembered per tool, version and command text in the user's cache directory
(``app.shellcache``), so re-checking an unchanged project runs no process; on a cold run the
commands go to the tools in batches (``app.shelltools``: one ``sh`` and one shellcheck per chunk
of commands, each command still parsed on its own, none ever run).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from muxc.app.shellcache import ShellCache
from muxc.app.shellplain import plainly_parses
from muxc.app.shelltools import Finding, Verdicts, sh_parse, shellcheck_lint, shellcheck_settings
from muxc.check.shellsyntax import ShellProbe, shell_probes
from muxc.diagnostics.sink import DiagnosticSink
from muxc.syntax.ast import Workflow

_QUOTED = re.compile(r"\"([^\"]+)\" unexpected|`([^']+)' *$|near unexpected token `([^']+)'")
Ask = Callable[[str, Sequence[str], Mapping[str, str]], Verdicts]


class ShellJudge:
    """Hands workflows' commands to the tools as they are added, and reports when asked.

    The tools run in the background while the caller goes on (``muxc check`` adds each workflow
    right after parsing it, then runs its pure checks): a big workflow's commands start as soon as
    ``EARLY`` of them are waiting; smaller sets wait for ``report`` so a project of small workflows
    still costs one process per core, not per file. Batches are judged one after the other, in
    order, by a single background worker: only it touches the cache until ``report`` joins it.
    """

    EARLY = 256  # commands not yet handed over that are worth starting processes for

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.probes: list[tuple[str, ShellProbe]] = []
        self.waiting: list[str] = []
        self.seen: set[str] = set()
        self.batches: list[Future[Verdicts]] = []
        self._worker: ThreadPoolExecutor | None = None
        self._cache: ShellCache | None = None

    def add(self, workflow: Workflow) -> None:
        for probe in shell_probes(workflow):
            self.probes.append((workflow.file, probe))
            if probe.text not in self.seen:
                self.seen.add(probe.text)
                self.waiting.append(probe.text)
        if len(self.waiting) >= self.EARLY:
            self._hand_over()

    def report(self, sink: DiagnosticSink) -> None:
        """Wait for the tools' verdicts and report them, workflow by workflow in the order added."""
        if not self.probes:
            return
        self._hand_over()
        verdicts: Verdicts = {}
        for batch in self.batches:
            verdicts.update(batch.result())
        if self._worker is not None:
            self._worker.shutdown()
        for file, probe in self.probes:
            for finding in verdicts.get(probe.text) or ():
                _report(file, probe, finding, sink)
        if self._cache is not None:
            self._cache.save()

    def _hand_over(self) -> None:
        if not self.waiting:
            return
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="muxc-shell-syntax")
        self.batches.append(self._worker.submit(self._judge, self.waiting))
        self.waiting = []

    def _judge(self, texts: list[str]) -> Verdicts:
        """sh's verdict on each command, then shellcheck's on those sh parses (a command sh cannot
        parse gets sh's word only). Runs on the background worker."""
        if self._cache is None:
            self._cache = ShellCache(self.environ)
        path = self.environ.get("PATH", os.defpath)
        sh, shellcheck = shutil.which("sh", path=path) or "sh", shutil.which("shellcheck", path=path)
        # sh's verdict on a plain command is known without asking it (nor remembering it)
        verdicts: Verdicts = {text: [] for text in texts if plainly_parses(text)}
        asked = [text for text in texts if text not in verdicts]
        verdicts.update(_verdicts(self._cache, sh, sh_parse, asked, self.environ))
        if shellcheck:
            clean = [text for text in texts if verdicts.get(text) == []]
            verdicts.update(_verdicts(self._cache, shellcheck, shellcheck_lint, clean, self.environ,
                                      shellcheck_settings(self.environ)))
        return verdicts


def _verdicts(cache: ShellCache, tool: str, ask: Ask, texts: list[str], environ: Mapping[str, str],
              settings: str = "") -> Verdicts:
    """The tool's verdict on each command: remembered, else asked (all the new ones at once) and
    remembered. A command the tool could not judge has none."""
    known = {text: cache.get(tool, text, settings) for text in texts}
    verdicts = {text: found for text, found in known.items() if found is not None}
    fresh = ask(tool, [text for text in texts if text not in verdicts], environ) if len(verdicts) < len(texts) else {}
    for text, findings in fresh.items():
        cache.put(tool, text, findings, settings)
    return verdicts | fresh


# --- reporting ----------------------------------------------------------------------------------------


def _report(file: str, probe: ShellProbe, finding: Finding, sink: DiagnosticSink) -> None:
    where = f"`{probe.field}` of step `{probe.step}`"
    if finding.tool == "sh":
        start, end = _sh_span(probe, finding)
        label = "the command ends here" if "end of file" in finding.message else "sh stops here"
        sink.report("shell-syntax", f"sh cannot parse {where}: {finding.message}", file, probe.span(start, end),
                    label, help="fix the shell syntax (`sh -n` reads the command as the build's `sh -c` "
                    "will; values are written as the references muxc passes them by)")
        return
    start = probe.offset(finding.line, finding.column)
    end = probe.offset(finding.end_line, finding.end_column) if finding.end_line else start + 1
    sink.report("shellcheck", f"shellcheck SC{finding.code} in {where}: {finding.message}", file,
                probe.span(start, max(end, start + 1)), f"SC{finding.code}",
                help=f"https://www.shellcheck.net/wiki/SC{finding.code} explains it; a line "
                f"`# shellcheck disable=SC{finding.code}` above the command's line silences it")


def _sh_span(probe: ShellProbe, finding: Finding) -> tuple[int, int]:
    """The unexpected word on the reported line when sh names it; the end for "end of file"."""
    if "end of file" in finding.message:
        end = len(probe.text.rstrip())
        return max(0, end - 1), max(end, 1)
    start, end = probe.line_span(finding.line)
    match = _QUOTED.search(finding.message)
    word = next((group for group in match.groups() if group), None) if match else None
    if word and word in probe.text[start:end]:
        at = probe.text.index(word, start, end)
        return at, at + len(word)
    return start, end
