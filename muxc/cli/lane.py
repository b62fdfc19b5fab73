"""A no-op ``muxc build`` answered before click loads.

Building again after an edit that changed nothing the workflow reads is what users run most; its
answer comes from the last build's manifest (``app.fastpath``) in a few milliseconds, and loading
click alone would cost more than deciding. So the ``muxc`` executable (``cli.entry``) hands its
command line here first.

Invariants:

- Only a plain command line is read: ``build`` or ``run``, the workflow, ``KEY=VALUE`` arguments,
  ``-j/--jobs N``, ``--replay``, ``-v/--verbose``, ``--quiet``, ``--output console|json|quiet``, ``-C/--dir DIR``
  and ``--team NAME``, before or after the command as click takes them. Anything else (another
  option, ``--``, a value click would refuse, a ``MUXC_`` variable click would read as an
  option) returns None before anything is printed, and click parses the whole line as always
  (and words any error).
- The fast path decides before anything is printed; when it does not answer, None again.
- What is printed, and the exit status, are what ``cli.build`` gives for the same no-op: the same
  reporter, summary line and ``--output json`` document (tests compare the two).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Environment variables muxc itself reads; any other MUXC_ variable may be an option for click.
OWN_VARIABLES = frozenset({"MUXC_FAST_PATH"})
_VALUED = {"-j": "jobs", "--jobs": "jobs", "--output": "output", "-C": "directory", "--dir": "directory",
           "--team": "team"}
_FLAGS = {"-v": "verbose", "--verbose": "verbose", "--quiet": "quiet", "--replay": "replay"}
_BUILD_ONLY = frozenset({"-j", "--jobs", "-v", "--verbose", "--replay"})  # after the command only
_OUTPUTS = ("console", "json", "quiet")
_ANSI = re.compile(r"\033\[[0-?]*[ -/]*[@-~]")  # what click.echo strips on a stream that is not a terminal


class _Plain(Exception):
    """The command line is not one the lane reads: click takes it."""


def answer_noop_build(argv: list[str], environ: Mapping[str, str]) -> int | None:
    """The exit status of a no-op build answered here, or None when click must take the command."""
    if any(name.startswith("MUXC_") and name not in OWN_VARIABLES for name in environ):
        return None
    try:
        line = _read(argv)
    except _Plain:
        return None
    return _answer(line)


def _read(argv: list[str]) -> dict[str, Any]:
    """The options, the workflow and its arguments of ``[GLOBALS] build|run WORKFLOW ...``."""
    line: dict[str, Any] = {"command": None, "workflow": None, "args": {}}
    words = iter(argv)
    for word in words:
        if word.startswith("-"):
            _option(line, word, words)
        elif line["command"] is None:
            line["command"] = _expect(word in ("build", "run"), word)
        elif line["workflow"] is None:
            line["workflow"] = word
        else:
            key, sep, value = word.partition("=")
            line["args"][_expect(bool(sep and key), key)] = value
    # which of --quiet and --output wins depends on where each stands (before the command or after
    # it, and in which order): click knows
    if line["workflow"] is None or line.get("directory") == "" or ("quiet" in line and "output" in line):
        raise _Plain
    return line


def _option(line: dict[str, Any], word: str, words: Any) -> None:
    name, sep, value = word.partition("=") if word.startswith("--") else (word[:2], "", word[2:])
    if line["command"] is None and name in _BUILD_ONLY:  # the group has no such option: click says so
        raise _Plain
    if name in _FLAGS and not sep and not value:
        line[_FLAGS[name]] = True
        return
    key = _VALUED.get(name)
    if key is None:
        raise _Plain
    if not sep and not value:
        value = next(words, None)
    if value is None or value.startswith("-"):
        raise _Plain
    line[key] = _value(key, value)


def _value(key: str, value: str) -> Any:
    if key == "jobs":
        return int(_expect(value.isascii() and value.isdigit() and 1 <= int(value) <= 256, value))
    if key == "output":
        return _expect(value in _OUTPUTS, value)
    if key == "directory":
        return Path(_expect(Path(value).is_dir(), value))
    return value


def _expect(condition: Any, value: Any) -> Any:
    if not condition:
        raise _Plain
    return value


def _answer(line: dict[str, Any]) -> int | None:
    from muxc.app import fastpath
    from muxc.app.project import Project
    from muxc.ui.progress import reporter_for

    output = "quiet" if line.get("quiet") else line.get("output", "console")
    options = fastpath.BuildOptions(jobs=line.get("jobs", 0), interactive=sys.stdin.isatty() and output == "console",
                                    team=line.get("team"), replay=line.get("replay", False))
    reporter = reporter_for(output, verbose=line.get("verbose", False))
    try:
        project = Project.discover(line.get("directory"))
    except OSError:  # a directory gone from under us: click's path words it
        return None
    build = fastpath.noop_build(project, line["workflow"], line["args"], options, reporter)
    if build is None:
        return None
    try:
        _print(build, output)
    except BrokenPipeError:  # a reader that stopped early, as click answers it
        return 1
    finally:
        build.close()
    return 0


def _print(build: Any, output: str) -> None:
    """As ``cli.build`` reports a build that succeeded (a no-op has no failure to render)."""
    from muxc.ui.summary import as_json, final_output, summary_line, summary_of

    if output == "json":
        import msgspec

        _echo(msgspec.json.format(msgspec.json.encode(as_json(build, 0)), indent=2).decode(), sys.stdout)
        return
    text = final_output(build)
    if text:
        _echo(text.rstrip("\n"), sys.stdout)
    if output == "console":
        _echo(summary_line(summary_of(build)), sys.stderr)


def _echo(text: str, stream: Any) -> None:
    stream.write((text if stream.isatty() else _ANSI.sub("", text)) + "\n")
    stream.flush()
