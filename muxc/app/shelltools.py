"""``sh -n`` and shellcheck on many shell commands at once, never running any of them.

Invariants:

- A command is only ever parsed: each gets its own ``sh -n -c "$cmd"`` (a fresh process, so
  nothing in one command can change another's verdict), and shellcheck reads it from a file of
  its own. Nothing here ``eval``s, sources or runs a command's text.
- Few processes: one ``sh`` loops over a chunk of commands passed as arguments (under the
  argument-size limit), writing a separator with a random mark and the exit status after each
  one, so every message maps back to its command; one shellcheck reads a chunk of files and
  reports per file (``--format=json1``). Chunks run concurrently, one per core.
- A verdict the tools could not give (no shell, a timeout, broken output) is absent from the
  result, so the caller neither reports nor remembers it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import msgspec

TIMEOUT_S = 10  # per command; a chunk gets this plus a little per command in it
CHUNK_TIMEOUT_PER_COMMAND_S = 0.05
# Not about the command: a sourced file shellcheck cannot follow, a variable the environment
# (the project, a team's verify) is expected to set.
SHELLCHECK_EXCLUDE = "SC1091,SC2154"
# Linux caps one argument at 128 KiB and all of them (with the environment) at ARG_MAX: a chunk
# stays well under both, and a longer command is handed to sh on its stdin, alone.
CHUNK_BYTES = 96 * 1024
ARGUMENT_BYTES = 64 * 1024
CHUNK_COMMANDS = 400  # at most, so several cores share a big workflow
_SH_LINE = re.compile(r"^[^:\n]*:\s*(?:-c:\s*)?(?:line\s+)?(\d+):\s*(.*)$")
# $1 is the mark; every other argument is a command, parsed (-n) by an `sh` of its own (after `--`, so a
# command starting with `-` is read as a command, not as options of sh).
_SH_LOOP = 'mark=$1; shift; for c do sh -n -c -- "$c" 2>&1 </dev/null; printf "\\n%s %d\\n" "$mark" "$?"; done'

Verdicts = dict[str, list["Finding"]]


class Finding(msgspec.Struct, frozen=True):
    """One problem a tool found: 1-based line and column in the probe, end exclusive (0: unknown)."""

    tool: str
    message: str
    line: int
    column: int = 0
    end_line: int = 0
    end_column: int = 0
    code: int = 0


def sh_parse(sh: str, texts: Sequence[str], environ: Mapping[str, str]) -> Verdicts:
    """What ``sh -n`` says of each command: ``[]`` when it parses."""
    alone = [text for text in texts if not _fits_argument(text)]
    together = [text for text in texts if _fits_argument(text)]
    verdicts = _in_parallel(lambda chunk: _sh_chunk(sh, chunk, environ), _chunks(together))
    for text in alone:
        finding = _sh_stdin(sh, text, environ)
        if finding is not None:
            verdicts[text] = finding
    return verdicts


def shellcheck_lint(binary: str, texts: Sequence[str], environ: Mapping[str, str]) -> Verdicts:
    """What shellcheck (as POSIX sh, warnings and up) says of each command, with the
    ``.shellcheckrc`` it would use for a command on its stdin here (the files it reads are
    elsewhere: it would not find the project's). It is named (or ``--norc`` given when there is
    none), so shellcheck does not search for one beside each file: that search cost an eighth of
    its time, and could find a stray rc file above the temporary directory."""
    rc = _rc_file(os.getcwd(), environ)
    options = [f"--rcfile={rc}"] if rc else ["--norc"]
    return _in_parallel(lambda chunk: _shellcheck_chunk(binary, chunk, environ, options), _chunks(texts))


def shellcheck_settings(environ: Mapping[str, str]) -> str:
    """What of the ``.shellcheckrc`` shellcheck reads here changes its verdicts: its path, size and
    modification time (part of a remembered verdict's key)."""
    rc = _rc_file(os.getcwd(), environ)
    if rc is None:
        return ""
    try:
        stat = os.stat(rc)
    except OSError:
        return rc
    return f"{rc}\0{stat.st_size}\0{stat.st_mtime_ns}"


def _rc_file(directory: str, environ: Mapping[str, str]) -> str | None:
    """The rc file shellcheck would read for a script in ``directory``: the nearest ``.shellcheckrc``
    or ``shellcheckrc`` from there up, else the user's (``~/.shellcheckrc``, then
    ``$XDG_CONFIG_HOME/shellcheckrc``), as shellcheck itself searches."""
    while True:
        for name in (".shellcheckrc", "shellcheckrc"):
            if os.path.isfile(os.path.join(directory, name)):
                return os.path.join(directory, name)
        parent = os.path.dirname(directory)
        if parent == directory:
            return _user_rc_file(environ)
        directory = parent


def _user_rc_file(environ: Mapping[str, str]) -> str | None:
    home = environ.get("HOME", "")
    config = environ.get("XDG_CONFIG_HOME", "")
    if not os.path.isabs(config):
        config = os.path.join(home, ".config") if home else ""
    candidates = [os.path.join(home, ".shellcheckrc") if home else "",
                  os.path.join(config, "shellcheckrc") if config else ""]
    return next((path for path in candidates if path and os.path.isfile(path)), None)


def _fits_argument(text: str) -> bool:
    return "\0" not in text and len(text.encode("utf-8", "surrogateescape")) <= ARGUMENT_BYTES


def _chunks(texts: Sequence[str]) -> list[list[str]]:
    """Runs of commands under the size caps, about even across the cores: as many chunks as a whole
    number of rounds on every core, so no core is left running a last chunk alone."""
    cores = os.cpu_count() or 1
    rounds = max(1, -(-len(texts) // (CHUNK_COMMANDS * cores)))
    per_chunk = max(1, -(-len(texts) // (rounds * cores)))
    chunks: list[list[str]] = []
    size = 0
    for text in texts:
        length = len(text.encode("utf-8", "surrogateescape")) + 1
        if not chunks or len(chunks[-1]) >= per_chunk or size + length > CHUNK_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(text)
        size += length
    return chunks


def _in_parallel(job: Callable[[list[str]], Verdicts], chunks: list[list[str]]) -> Verdicts:
    verdicts: Verdicts = {}
    if len(chunks) <= 1:
        for chunk in chunks:
            verdicts.update(job(chunk))
        return verdicts
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for result in pool.map(job, chunks):
            verdicts.update(result)
    return verdicts


def _run(argv: list[str], environ: Mapping[str, str], count: int, **options) -> tuple[int | None, str]:
    """The exit status and stdout of a tool; None when it could not run or did not finish in time
    (with what it wrote until then)."""
    try:
        result = subprocess.run(argv, capture_output=True, timeout=TIMEOUT_S + CHUNK_TIMEOUT_PER_COMMAND_S * count,
                                env=dict(environ), **options)
    except subprocess.TimeoutExpired as timeout:
        return None, (timeout.stdout or b"").decode("utf-8", "replace")
    except OSError:
        return None, ""
    return result.returncode, result.stdout.decode("utf-8", "replace")


# --- sh -n ---------------------------------------------------------------------------------------------


def _sh_chunk(sh: str, chunk: list[str], environ: Mapping[str, str]) -> Verdicts:
    mark = "muxc-" + secrets.token_hex(16)  # a command's message cannot forge it: it never sees it
    _, output = _run([sh, "-c", _SH_LOOP, "sh", mark, *chunk], environ, len(chunk), stdin=subprocess.DEVNULL)
    parts = re.split(r"\n" + mark + r" (\d+)\n", output)
    # [out1, status1, out2, status2, ..., tail]: a command without its status line (a timeout) is unknown
    return {text: _sh_findings(int(status), message)
            for text, message, status in zip(chunk, parts[0::2], parts[1::2], strict=False)}


def _sh_stdin(sh: str, text: str, environ: Mapping[str, str]) -> list[Finding] | None:
    """A command too long for an argument (or holding a NUL): ``sh -n`` reads it on stdin."""
    try:
        result = subprocess.run([sh, "-n"], input=text, capture_output=True, text=True, timeout=TIMEOUT_S,
                                env=dict(environ), errors="replace")
    except (OSError, subprocess.TimeoutExpired):
        return None
    return _sh_findings(result.returncode, result.stderr)


def _sh_findings(status: int, output: str) -> list[Finding]:
    if status == 0:
        return []
    for line in output.splitlines():
        match = _SH_LINE.match(line)
        if match:
            message = re.sub(r"^[Ss]yntax error:\s*", "", match.group(2)).strip()
            return [Finding("sh", message, int(match.group(1)))]
    return [Finding("sh", output.strip() or "sh -n could not parse the command", 1)]


# --- shellcheck ------------------------------------------------------------------------------------------


def _shellcheck_chunk(binary: str, chunk: list[str], environ: Mapping[str, str], options: list[str]) -> Verdicts:
    with tempfile.TemporaryDirectory(prefix="muxc-shellcheck-", dir=_scratch_dir(environ)) as folder:
        names = [f"{number}.sh" for number in range(len(chunk))]
        for name, text in zip(names, chunk, strict=True):
            _write_new(os.path.join(folder, name), text.encode("utf-8", "surrogateescape"))
        argv = [binary, "--shell=sh", "--format=json1", "--severity=warning", f"--exclude={SHELLCHECK_EXCLUDE}",
                *options, *names]
        status, output = _run(argv, environ, len(chunk), cwd=folder, stdin=subprocess.DEVNULL)
    if status is None:
        return {}
    verdicts: Verdicts = {text: [] for text in chunk}
    by_name = dict(zip(names, chunk, strict=True))
    try:
        for comment in json.loads(output or "{}").get("comments", []):
            verdicts[by_name[comment["file"]]].append(_shellcheck_finding(comment))
    except (ValueError, TypeError, AttributeError, KeyError):
        return {}  # a broken shellcheck is not the workflow's problem
    return verdicts


def _scratch_dir(environ: Mapping[str, str]) -> str | None:
    """Where the probe files go: a memory file system when there is one (creating a file on a disk
    file system costs ~0.1 ms, ten times more: a second for a 10,000-command workflow), else the
    usual temporary directory. The folder made in it is private to the user (mode 0700)."""
    for candidate in (environ.get("XDG_RUNTIME_DIR"), "/dev/shm"):
        if candidate and os.path.isdir(candidate) and os.access(candidate, os.W_OK | os.X_OK):
            return candidate
    return None


def _write_new(path: str, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(descriptor, view):]
    finally:
        os.close(descriptor)


def _shellcheck_finding(comment: dict) -> Finding:
    return Finding("shellcheck", str(comment.get("message", "")), int(comment.get("line", 1)),
                   int(comment.get("column", 1)), int(comment.get("endLine", 0)), int(comment.get("endColumn", 0)),
                   int(comment.get("code", 0)))
