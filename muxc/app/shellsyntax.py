"""``sh -n`` and shellcheck on the shell commands of workflows, as warnings at the exact span.

``muxc check`` calls this after the pure checks. Each shell step's ``run`` and apply step's
``verify`` is read as the shell will read it (``check.shellsyntax``: values written as the
references the build writes); ``sh -n`` (the ``sh`` the build runs commands with) parses it
without running it, and shellcheck, when it is on PATH, lints it as POSIX sh. Their lines and
columns map back into the workflow file. A problem is a warning (``shell-syntax``, ``shellcheck``):
the command may rely on a shell muxc does not know about, and the build is the judge.

Results are remembered per command text in the user's cache directory, so re-checking an
unchanged project runs no process.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping

import msgspec

from muxc.base.userdirs import user_cache_dir
from muxc.check.shellsyntax import ShellProbe, shell_probes
from muxc.diagnostics.sink import DiagnosticSink
from muxc.syntax.ast import Workflow

TIMEOUT_S = 10
# Not about the command: a sourced file shellcheck cannot follow, a variable the environment
# (the project, a team's verify) is expected to set.
SHELLCHECK_EXCLUDE = "SC1091,SC2154"
_SH_LINE = re.compile(r"^[^:\n]*:\s*(?:line\s+)?(\d+):\s*(.*)$")
_QUOTED = re.compile(r"\"([^\"]+)\" unexpected|`([^']+)' *$|near unexpected token `([^']+)'")


class Finding(msgspec.Struct, frozen=True):
    """One problem a tool found: 1-based line and column in the probe, end exclusive (0: unknown)."""

    tool: str
    message: str
    line: int
    column: int = 0
    end_line: int = 0
    end_column: int = 0
    code: int = 0


def check_shell_syntax(workflows: Iterable[Workflow], sink: DiagnosticSink, environ: Mapping[str, str]) -> None:
    """Report what ``sh -n`` and shellcheck find in every shell command of ``workflows``."""
    probes = [(workflow.file, probe) for workflow in workflows for probe in shell_probes(workflow)]
    if not probes:
        return
    cache = _Cache(environ)
    path = environ.get("PATH", os.defpath)
    sh, shellcheck = shutil.which("sh", path=path) or "sh", shutil.which("shellcheck", path=path)
    for file, probe in probes:
        findings = cache.get(sh, probe.text)
        if findings is None:
            findings = _sh_n(probe.text, environ)
            cache.put(sh, probe.text, findings)
        if not findings and shellcheck:  # a command sh cannot parse gets sh's word only
            findings = cache.get(shellcheck, probe.text)
            if findings is None:
                findings = _shellcheck(shellcheck, probe.text, environ)
                cache.put(shellcheck, probe.text, findings)
        for finding in findings:
            _report(file, probe, finding, sink)
    cache.save()


# --- sh -n -------------------------------------------------------------------------------------------


def _sh_n(text: str, environ: Mapping[str, str]) -> list[Finding]:
    try:
        result = subprocess.run(["sh", "-n"], input=text, capture_output=True, text=True, timeout=TIMEOUT_S,
                                env=dict(environ), errors="replace")
    except (OSError, subprocess.TimeoutExpired):
        return []  # no shell to ask: nothing is known, and the build will say what it says
    if result.returncode == 0:
        return []
    for line in result.stderr.splitlines():
        match = _SH_LINE.match(line)
        if match:
            message = re.sub(r"^[Ss]yntax error:\s*", "", match.group(2)).strip()
            return [Finding("sh", message, int(match.group(1)))]
    return [Finding("sh", result.stderr.strip() or "sh -n could not parse the command", 1)]


# --- shellcheck ---------------------------------------------------------------------------------------


def _shellcheck(binary: str, text: str, environ: Mapping[str, str]) -> list[Finding]:
    command = [binary, "--shell=sh", "--format=json1", "--severity=warning", f"--exclude={SHELLCHECK_EXCLUDE}", "-"]
    try:
        result = subprocess.run(command, input=text, capture_output=True, text=True, timeout=TIMEOUT_S,
                                env=dict(environ), errors="replace")
        comments = json.loads(result.stdout or "{}").get("comments", [])
    except (OSError, subprocess.TimeoutExpired, ValueError, AttributeError):
        return []  # a broken shellcheck is not the workflow's problem
    return [Finding("shellcheck", str(c.get("message", "")), int(c.get("line", 1)), int(c.get("column", 1)),
                    int(c.get("endLine", 0)), int(c.get("endColumn", 0)), int(c.get("code", 0)))
            for c in comments if isinstance(c, dict)]


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


# --- the cache ----------------------------------------------------------------------------------------


class _Cache:
    """Findings per (tool, command text), in one JSON file under the user's cache directory.

    A tool is named by its path and modification time, so an upgraded shellcheck is asked again."""

    LIMIT = 2000  # entries kept: enough for every command of many projects, small to read

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.path = user_cache_dir(environ) / "shell-syntax.json"
        self.entries: dict[str, list] = self._load()
        self.changed = False

    def _load(self) -> dict[str, list]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _key(self, tool: str, text: str) -> str:
        try:
            stamp = str(os.stat(tool).st_mtime_ns) if os.path.isabs(tool) else tool
        except OSError:
            stamp = tool
        return hashlib.blake2b(f"{tool}\0{stamp}\0{text}".encode(), digest_size=16).hexdigest()

    def get(self, tool: str, text: str) -> list[Finding] | None:
        found = self.entries.get(self._key(tool, text))
        if not isinstance(found, list):
            return None
        try:
            return msgspec.convert(found, list[Finding])
        except msgspec.ValidationError:
            return None

    def put(self, tool: str, text: str, findings: list[Finding]) -> None:
        self.entries[self._key(tool, text)] = msgspec.to_builtins(findings)
        self.changed = True

    def save(self) -> None:
        if not self.changed:
            return
        entries = dict(list(self.entries.items())[-self.LIMIT:])
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=".shell-syntax.", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(entries, handle)
            os.replace(temp, self.path)
        except OSError:
            pass  # a cache that cannot be written only costs time next run
