"""Rendering templates at build time: the Jinja environment, muxc's filters, and the context.

Undefined values are errors (StrictUndefined), except through ``is defined`` and ``| default``.
Step results appear as ``steps.X`` objects whose text is their output; LLM output is data and is
never rendered again as a template. Compiled templates are cached by their text, since the same
template renders once per ``for_each`` item.
"""

from __future__ import annotations

import datetime
import json
import shlex
from collections.abc import Callable, Iterable, Mapping
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

import jinja2
from jinja2 import ChainableUndefined, StrictUndefined, Undefined

from muxc.lang.jinja import has_syntax
from muxc.run.flat import flat_template
from muxc.run.stepview import StepView

if TYPE_CHECKING:
    from muxc.run.tracked import Tracked


class RenderError(Exception):
    """A template failed at build time; the message names what was undefined or wrong."""


class MuxcUndefined(ChainableUndefined, StrictUndefined):
    """Strict when printed, compared or iterated, but attribute access on it stays undefined, so
    ``team.verify | default("make test")`` works when no team was detected (what the checker
    accepts as guarded never fails at build time)."""

    __slots__ = ()


# --- filters ----------------------------------------------------------------------------


def _default(value: Any, fallback: Any = "", boolean: bool = False) -> Any:
    """llm-mux's default: the fallback for undefined, none, and the empty string."""
    if isinstance(value, Undefined) or value is None or value == "":
        return fallback
    return value if not boolean or value else fallback


def _join(value: Any, separator: str = ", ") -> str:
    if isinstance(value, Undefined) or value is None:
        return ""
    if isinstance(value, str) or not isinstance(value, Iterable):
        return str(value)
    return separator.join(str(item) for item in value)


def _lines(value: Any) -> list[str]:
    """Non-blank lines, trailing whitespace removed (what for_each wants from text)."""
    return [line.rstrip() for line in str(value).splitlines() if line.strip()]


def _json(value: Any) -> str:
    return json.dumps(_plain(value), ensure_ascii=False, default=str)


def _plain(value: Any) -> Any:
    if isinstance(value, StepView):
        return str(value.output)
    return value


def _strftime(value: Any, fmt: str = "%Y-%m-%d") -> str:
    if value == "now":
        moment = datetime.datetime.now(datetime.UTC)
    elif isinstance(value, (datetime.date, datetime.datetime)):
        moment = value
    else:
        moment = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment.strftime(fmt)


def _trim(value: Any) -> str:
    return str(value).strip()


def _shell_quote(value: Any) -> str:
    """In a prompt, ``| shell_escape`` quotes as asked; in a shell template values need nothing
    (see ``shellvalues``), so there it does nothing."""
    return shlex.quote(str(value))


FILTERS: dict[str, Callable[..., Any]] = {
    "shell_escape": _shell_quote,
    "raw_shell": str,  # in a shell command, inlined as code (see shellvalues); elsewhere plain text
    "json": _json,
    "join": _join,
    "lines": _lines,
    "trim": _trim,
    "default": _default,
    "d": _default,
    "strftime": _strftime,
}


def make_environment(finalize: Callable[[Any], Any] | None = None, **filters: Callable[..., Any]
                     ) -> jinja2.Environment:
    """muxc's Jinja environment: strict undefined values, the trailing newline kept, muxc's filters
    (``filters`` replace some of them), and ``finalize`` run on every ``{{ }}`` output."""
    env = jinja2.Environment(undefined=MuxcUndefined, keep_trailing_newline=True, autoescape=False,
                             finalize=finalize)
    env.filters.update(FILTERS)
    env.filters.update(filters)
    return env


def template_cache(environment: Callable[[], jinja2.Environment], size: int) -> Callable[[str], jinja2.Template]:
    """A memoised compiler of templates for ``environment`` (the same template renders per item)."""

    @lru_cache(maxsize=size)
    def compiled(text: str) -> jinja2.Template:
        return environment().from_string(without_comment_lines(text))

    return compiled


@cache
def environment() -> jinja2.Environment:
    return make_environment()


@cache
def _tracking_environment() -> jinja2.Environment:
    from muxc.run.tracked import collect

    return make_environment(finalize=collect)


_compiled = template_cache(environment, 4096)
_compiled_tracking = template_cache(_tracking_environment, 1024)


def render_tracked(text: str, context: Mapping[str, Any]) -> Tracked:
    """A prompt rendered with its values kept apart from its layout (see ``run.tracked``)."""
    from muxc.run.tracked import Tracked, render_marked, tracked_text

    if not has_syntax(text):
        return Tracked(text, text)
    try:
        return tracked_text(*render_marked(text, _tracking_environment(), _compiled_tracking, context))
    except jinja2.TemplateError as error:
        raise RenderError(jinja_message(error)) from None


def without_comment_lines(text: str) -> str:
    """The template without the lines that hold nothing but a Jinja comment.

    A comment is for the reader of the workflow: left in place, such a line would send the LLM an
    empty line and, between two lines of text, change the step's key, so adding a comment would
    rerun the step. Comments sharing a line with text render as nothing already."""
    if "{#" not in text:
        return text
    from muxc.lang.jinja import tokens

    cuts = []
    for token in tokens(text):
        if token.kind != "comment_begin":
            continue
        end = text.find("#}", token.start + len(token.value))
        if end == -1:
            break
        end += 2
        line_start = text.rfind("\n", 0, token.start) + 1
        line_end = text.find("\n", end)
        line_end = len(text) if line_end == -1 else line_end + 1
        if not text[line_start : token.start].strip() and not text[end:line_end].strip():
            cuts.append((line_start, line_end))
    kept, position = [], 0
    for start, stop in cuts:  # in order; joined once, so many comments cost no more than one
        kept.append(text[position:start])
        position = stop
    return "".join(kept) + text[position:]


@lru_cache(maxsize=1024)
def _compiled_expression(text: str) -> Callable[..., Any]:
    from muxc.lang.jinja import expression_source

    source, shift = expression_source(text)
    # written as {{ expr }}: strip the braces to evaluate a value, not text
    source = source.strip()[2:-2] if shift == 0 else text
    return environment().compile_expression(source, undefined_to_none=False)


def render(text: str, context: Mapping[str, Any]) -> str:
    if not has_syntax(text):  # plain text renders to itself: skip compiling it
        return text
    try:
        flat = flat_template(text, environment())
        if flat is not None:
            return flat.render(context, str)
        return _compiled(text).render(context)
    except jinja2.TemplateError as error:
        raise RenderError(jinja_message(error)) from None


def evaluate(expression: str, context: Mapping[str, Any]) -> Any:
    """The value of an ``if``/``for_each`` expression (not its text)."""
    try:
        value = _compiled_expression(expression)(**context)
    except jinja2.TemplateError as error:
        raise RenderError(jinja_message(error)) from None
    if isinstance(value, Undefined):
        raise RenderError(f"{_undefined_name(value)} is undefined")
    return value


def jinja_message(error: jinja2.TemplateError) -> str:
    text = str(error.message or error)
    if "is undefined" in text or "has no attribute" in text:
        return text.replace("'muxc.run.templating.", "'").replace("jinja2.runtime.", "")
    return text


def _undefined_name(value: Undefined) -> str:
    name = getattr(value, "_undefined_name", None)
    return f"`{name}`" if name else "the value"


# --- the context ------------------------------------------------------------------------


StepView.no_json = staticmethod(lambda: MuxcUndefined(hint="the output of this step holds no JSON", name="json"))


class TeamView:
    """``team``: prints as the team's name (llm-mux printed the word "team")."""

    def __init__(self, name: str, description: str = "", detect: list[str] | None = None,
                 verify: str | None = None, roles: list[str] | None = None) -> None:
        self.name = name
        self.description = description
        self.detect = list(detect or [])
        self.verify = verify if verify is not None else MuxcUndefined(name="verify", hint="the team has no verify")
        self.roles = list(roles or [])

    def __str__(self) -> str:
        return self.name

    def __eq__(self, other: object) -> bool:
        return self.name == other if isinstance(other, str) else self is other

    def __hash__(self) -> int:
        return hash(self.name)


class EnvView(Mapping[str, str]):
    """``env``: the build's environment, read lazily; an unset variable is undefined."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def __getitem__(self, key: str) -> str:
        return self._environ[key]

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        if key in self._environ:
            return self._environ[key]
        return MuxcUndefined(name=key, hint=f"environment variable {key} is not set")

    def __iter__(self) -> Any:
        return iter(self._environ)

    def __len__(self) -> int:
        return len(self._environ)
