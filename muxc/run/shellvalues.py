"""Shell commands from templates: every value reaches the shell as data, never as text it parses.

A shell template (a shell step's ``run``, an apply step's ``verify``) renders with each
``{{ expr }}`` replaced by a reference to an environment variable of the child — ``MUXC_V1``,
``MUXC_V2``, ... — that holds the value's text. The shell expands a reference after it has parsed
the command and never parses the result again, so no value can become code, whatever it holds
(quotes, ``$( )``, backticks, a heredoc's delimiter, new lines). Only the template's own literal
text is shell code.

How it is done: the template renders in a tracking environment (``run.tracked``): each value
is recorded and an unforgeable marker written in its place; the rendered text — real shell structure, after ``{% if %}`` and
whitespace control — is then read by ``check.shellscan`` to write each reference for where it
landed (``"${MUXC_V1}"`` bare, ``${MUXC_V1}`` in double quotes or an unquoted heredoc body,
``'"${MUXC_V1}"'`` in single quotes). A value in a quoted heredoc, in a heredoc's delimiter or in ``$(( ))`` is refused.

``| shell_escape`` does nothing here (kept so llm-mux workflows run); ``| raw_shell`` is the
explicit opt-out that inlines a value as shell code (the checker warns). What people see — status,
``--dry-run``, logs — is ``ShellCommand.shown``, the command with each value written in, quoted for
its place; it is never run. The cache key hashes the command text and the values exactly.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import tempfile
import uuid
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import jinja2
import msgspec

from muxc.base import process
from muxc.base.shellwords import PLAIN_CHARACTERS, RESERVED_WORDS
from muxc.lang import shellscan as S
from muxc.lang.jinja import has_syntax
from muxc.run import tracked
from muxc.run.templating import RenderError, jinja_message, make_environment, template_cache

VALUE_VAR = "MUXC_V"
FILE_VAR = "MUXC_F"
SCRIPT_VAR = "MUXC_SCRIPT"  # a command too long for one argument is read from this file
# Linux refuses one environment string over 128 KiB (and all of them past a few MiB): larger
# values go through a private file that the command reads into the variable before it starts.
ENV_VALUE_LIMIT = 64 * 1024
ENV_TOTAL_LIMIT = 512 * 1024


class ShellCommand(msgspec.Struct, frozen=True):
    """A command ready for ``sh -c``: ``text`` holds references, ``values`` what they refer to.

    ``values[i]`` is the text of ``MUXC_V{i+1}``; ``shown`` is for people only."""

    text: str
    values: tuple[str, ...] = ()
    shown: str = ""

    @classmethod
    def literal(cls, text: str) -> ShellCommand:
        """A command written by the user as is (config, a team's verify): no values in it."""
        return cls(text, (), text)

    def key_material(self) -> bytes:
        """What the cache key hashes: the text and every value exactly (whitespace is data here)."""
        return msgspec.json.encode([self.text, list(self.values)])


class RawShell(str):
    """A value marked ``| raw_shell``: inlined as shell code when it is a whole ``{{ }}``."""

    __slots__ = ()


def raw_shell(value: object) -> RawShell:
    return RawShell(str(value))


def _unchanged(value: object) -> object:
    """``| shell_escape`` in a shell template: values are data already, there is nothing to do."""
    return value


class ShellRenderError(Exception):
    """A value cannot be passed where it stands; the message says what to write instead."""


# --- rendering ---------------------------------------------------------------------------------


def _finalize(value: Any) -> str:
    """Every ``{{ }}`` of a command: a marker for the value, or a ``| raw_shell`` text as is."""
    return str(value) if isinstance(value, RawShell) else tracked.collect(value)


@cache
def _environment() -> jinja2.Environment:
    return make_environment(finalize=_finalize, shell_escape=_unchanged, raw_shell=raw_shell)


_compiled = template_cache(_environment, 1024)


def render_command(template: str, context: Mapping[str, Any]) -> ShellCommand:
    """The command a shell template gives in ``context``; raises ``RenderError`` with the reason."""
    if not has_syntax(template):
        return ShellCommand.literal(template)
    try:
        rendered, collector = tracked.render_marked(template, _environment(), _compiled, context)
        return _compose(rendered, collector)
    except jinja2.TemplateError as error:
        raise RenderError(jinja_message(error)) from None
    except ShellRenderError as error:
        raise RenderError(str(error)) from None


def _compose(rendered: str, collector: tracked.Collector) -> ShellCommand:
    """Replace each marker with a reference written for where it landed, and with the value in
    the text people see."""
    scanner = S.Scanner()
    numbers: dict[int, int] = {}  # collector index -> variable number, in order of first use
    text: list[str] = []
    shown: list[str] = []
    position = 0
    for match in collector.marker.finditer(rendered):
        literal = rendered[position : match.start()]
        scanner.feed(literal)
        text.append(literal)
        shown.append(literal)
        value = collector.values[int(match[1])]
        number = numbers.setdefault(int(match[1]), len(numbers) + 1)
        text.append(_reference(scanner.context, number))
        shown.append(_shown(scanner.context, value))
        scanner.placeholder()
        position = match.end()
    text.append(rendered[position:])
    shown.append(rendered[position:])
    command = "".join(text)
    values = tuple(collector.values[index] for index in sorted(numbers, key=numbers.__getitem__))
    if any("\x00" in value for value in values) or "\x00" in command:
        raise ShellRenderError("a value holds a NUL byte, which no command can receive (the system ends a string "
                               "there); remove it from the value, e.g. with | replace('\\x00', '')")
    return ShellCommand(command, values, "".join(shown))


def _reference(context: str, number: int) -> str:
    name = "${" + VALUE_VAR + str(number) + "}"
    if context in (S.QUOTED_HEREDOC, S.ARITHMETIC, S.DELIMITER):
        raise ShellRenderError(f"a value lands in {S.PLACES[context]}: {S.UNREACHABLE[context]}")
    if context in (S.DOUBLE, S.HEREDOC, S.COMMENT):
        return name
    if context == S.SINGLE:
        return "'\"" + name + "\"'"
    return '"' + name + '"'


def _shown(context: str, value: str) -> str:
    """The value as a person would type it there (display only: this text is never run)."""
    if context == S.DOUBLE:
        return re.sub(r'([\\"$`])', r"\\\1", value)
    if context == S.SINGLE:
        return value.replace("'", "'\\''")
    if context == S.HEREDOC:
        return re.sub(r"([\\$`])", r"\\\1", value)
    if context == S.COMMENT:
        return value.replace("\r", " ").replace("\n", " ")
    return shlex.quote(value)


# --- handing the values to the child -----------------------------------------------------------


class Launch(msgspec.Struct, frozen=True):
    """What to start: the script for ``sh -c``, the variables to add, the files to write first."""

    script: str
    env: dict[str, str]
    files: dict[str, str]  # path (in ``scratch``, a private directory to create) -> value text


def launch(command: ShellCommand, scratch: str) -> Launch:
    """Small values as environment variables; large ones in files under ``scratch`` that the
    script reads first; a script too long to be one argument is itself read from a file there
    (the caller creates the directory, private, only when there are files)."""
    env: dict[str, str] = {}
    files: dict[str, str] = {}
    preamble: list[str] = []
    total = 0
    for number, value in sorted(enumerate(command.values, 1), key=lambda pair: len(pair[1].encode())):
        size = len(value.encode())
        if size <= ENV_VALUE_LIMIT and total + size <= ENV_TOTAL_LIMIT:
            env[f"{VALUE_VAR}{number}"] = value
            total += size
            continue
        path = f"{scratch}/v{number}"
        files[path] = value
        env[f"{FILE_VAR}{number}"] = path
        # `; echo .` then `%.`: command substitution drops trailing new lines, which are data
        preamble.append(f'{VALUE_VAR}{number}=$(cat "${FILE_VAR}{number}"; echo .); '
                        f"{VALUE_VAR}{number}=${{{VALUE_VAR}{number}%.}}\n")
    script = "".join(preamble) + command.text
    if len(script.encode()) > ENV_VALUE_LIMIT:  # `sh -c` takes it as one argument: at most 128 KiB
        files[f"{scratch}/script"] = script
        env[SCRIPT_VAR] = f"{scratch}/script"
        script = f'. "${SCRIPT_VAR}"'
    return Launch(script, env, files)


def run_with_values(command: ShellCommand, *, cwd: str | os.PathLike[str], environ: Mapping[str, str],
                    timeout_s: float | None, cancel: Any = None,
                    wrap: Callable[[str], str] = lambda script: script) -> process.ProcessResult:
    """Run ``command`` with ``sh -c`` (through ``wrap``), its values in the environment or in
    private files that are removed when it ends. A plain command (``plain_argv``) is started
    without the shell, as sh would start it; if that cannot be done, sh runs it after all."""
    if not command.values and wrap(command.text) == command.text:
        argv = plain_argv(command.text, environ)
        if argv is not None:
            result = process.run(argv, cwd=cwd, env=_as_sh_would(environ, cwd), timeout_s=timeout_s, cancel=cancel)
            if result.error is None:  # else (not found, not executable...) sh says it its own way
                return result
    scratch = os.path.join(tempfile.gettempdir(), f"muxc-values-{os.getpid()}-{uuid.uuid4().hex}")
    handover = launch(command, scratch)
    try:
        if handover.files:
            _write_private(scratch, handover.files)
        return process.run(wrap(handover.script), cwd=cwd, env={**environ, **handover.env}, timeout_s=timeout_s,
                           cancel=cancel)
    except OSError as error:
        return process.ProcessResult(None, "", "", error=f"cannot hand the values to the command: {error}")
    finally:
        if handover.files:
            shutil.rmtree(scratch, ignore_errors=True)


# --- a plain command without the shell ------------------------------------------------------

# Words sh takes as they are (base.shellwords), separated by spaces: no tabs or new lines.
_PLAIN = re.compile(rf"[{PLAIN_CHARACTERS}]+(?: +[{PLAIN_CHARACTERS}]+)*")
# Names sh runs itself instead of a program of that name (POSIX, dash and bash builtins, and the
# reserved words): `echo -n`, `cd`, `exit 3` must stay the shell's.
_SHELL_WORDS = """
. : [ alias bg bind break builtin caller cd chdir command compgen complete compopt continue coproc declare dirs
disown echo enable eval exec exit export false fc fg getopts hash help history jobs kill let local logout mapfile
popd printf pushd pwd read readarray readonly return select set shift shopt source suspend test time times trap
true type typeset ulimit umask unalias unset wait
"""
_SHELL_OWN = frozenset(_SHELL_WORDS.split()) | RESERVED_WORDS


def plain_argv(script: str, environ: Mapping[str, str]) -> list[str] | None:
    """The program and arguments of a command that is one simple command of plain words — what
    ``sh -c`` would split it into — or None when the shell must run it.

    Starting ``cp a b`` without ``sh -c`` costs one program start instead of two (about 0.6 ms
    of CPU per step here); GNU make does the same for its plain recipe lines. Nothing in such a
    command means anything to the shell, so the program gets the same arguments, environment
    (with ``PWD``, which sh sets), directory and process group either way."""
    stripped = script.strip(" \n")  # new lines around one command separate nothing
    if not _PLAIN.fullmatch(stripped) or "PATH" not in environ:  # no PATH: sh's default search differs
        return None
    argv = stripped.split()
    if argv[0] in _SHELL_OWN or "=" in argv[0]:  # an assignment (`A=1 cmd`) is the shell's too
        return None
    if any(name.startswith("BASH_FUNC_") for name in environ):  # bash as sh would call an exported function
        return None
    return argv


def _as_sh_would(environ: Mapping[str, str], cwd: str | os.PathLike[str]) -> dict[str, str]:
    """The environment sh hands the program it starts: sh sets ``PWD`` to the directory it runs
    in, unless the inherited ``PWD`` already names that directory."""
    env = dict(environ)
    directory = os.fspath(cwd)
    if not _names_directory(env.get("PWD"), directory):
        env["PWD"] = os.path.realpath(directory)
    return env


@cache
def _names_directory(pwd: str | None, directory: str) -> bool:
    """Whether ``pwd`` is an absolute path to ``directory`` (as sh checks it: the same file)."""
    if not pwd or not os.path.isabs(pwd):
        return False
    try:
        return os.path.samefile(pwd, directory)
    except OSError:
        return False


def _write_private(directory: str, files: dict[str, str]) -> None:
    os.mkdir(directory, 0o700)
    for path, text in files.items():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as file:
            file.write(text)
