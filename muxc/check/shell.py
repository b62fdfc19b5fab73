"""Pass: the values of shell commands — where none can be passed, and the filters that changed.

A value in a shell command (a shell step's ``run``, an apply step's ``verify``) reaches the child
as data, through an environment variable the command refers to (``run.shellvalues``). Reported
at the ``{{ }}`` itself: a value in a quoted heredoc body, a shell comment or ``$(( ))`` arithmetic
or a heredoc's delimiter word (an error: no reference can carry it there); ``| shell_escape`` (a note: it does nothing now);
``| raw_shell`` (a warning: the value is inlined as shell code).

The places are read from the template's literal text. After a ``{% %}`` tag the text the shell
will read depends on the values (branches may quote differently), so places there are judged
only when the build renders the command, exactly.
"""

from __future__ import annotations

import itertools

from muxc.check.state import CheckState, Template
from muxc.lang import jinja as J
from muxc.lang.shellscan import PLACES, SHELL_FIELDS, UNREACHABLE, Scanner


def check_shell_values(state: CheckState) -> None:
    for step in state.workflow.steps:
        for template in state.templates.get(step.name, ()):
            if template.field in SHELL_FIELDS and template.info.error is None and J.has_syntax(template.node.value):
                _check_command(state, template)


def _check_command(state: CheckState, template: Template) -> None:
    source = template.node.value
    scanner = Scanner()
    position = 0
    group: list[J.Token] = []
    context = ""
    strip_next = branched = False
    for token in J.tokens(source):
        if token.kind in ("variable_begin", "block_begin", "comment_begin"):
            scanner.feed(_literal(source[position : token.start], strip_next, token.value.endswith("-")))
            context, group = scanner.context, []
            branched = branched or token.kind == "block_begin"
        elif token.kind == "variable_end":
            _check_value(state, template, group, "" if branched else context)
            scanner.placeholder()
        else:
            group.append(token)
        if token.kind in ("variable_end", "block_end", "comment_end"):
            position = token.start + len(token.value)
            strip_next = token.value.startswith("-")


def _literal(text: str, strip_start: bool, strip_end: bool) -> str:
    """Literal text as the rendered command has it: ``{{-`` and ``-}}`` eat the white space beside them."""
    text = text.lstrip() if strip_start else text
    return text.rstrip() if strip_end else text


def _check_value(state: CheckState, template: Template, group: list[J.Token], context: str) -> None:
    node = template.node
    if context in PLACES and group:
        span = node.source_span(group[0].start, group[-1].start + len(group[-1].value))
        state.report("shell-value-unreachable", f"a value cannot be passed into {PLACES[context]}", span,
                     "no value can reach this place", help=UNREACHABLE[context])
    for before, token in itertools.pairwise(group):
        if before.value != "|" or token.kind != "name":
            continue
        span = node.source_span(token.start, token.start + len(token.value))
        if token.value == "shell_escape":
            state.report("shell-escape-not-needed", "`| shell_escape` does nothing in a shell command", span,
                         "not needed", help="values reach the command as data (an environment variable), so no "
                         "value can become code; remove the filter")
        elif token.value == "raw_shell":
            state.report("raw-shell-value", "`| raw_shell` runs this value as shell code", span,
                         "inlined as code", help="only for text you wrote yourself: a value from a model, a file "
                         "or an argument could run any command; remove the filter to pass it as data")
