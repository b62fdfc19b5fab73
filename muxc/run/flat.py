"""Templates that are only text and ``{{ expr }}``, rendered without compiling a Jinja template.

Compiling costs ~70 µs per ``{{ }}`` (a command with 200,000 values would take a quarter of a
minute); evaluating each distinct expression once and joining the pieces costs almost nothing.
Anything with tags, comments, whitespace control or a syntax error is left to Jinja.
Invariant: renders exactly what Jinja renders.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import jinja2

from muxc.lang.jinja import has_syntax, tokens


class FlatTemplate:
    """A template that is only text and ``{{ expr }}``: rendered by evaluating each distinct
    expression once, without compiling a template (which costs ~70 µs per ``{{ }}``: a command
    with 200,000 values would take a quarter of a minute). Renders exactly what Jinja renders."""

    def __init__(self, literals: list[str], expressions: list[str], compiled: dict[str, Callable[..., Any]]):
        self.literals, self.expressions, self.compiled = literals, expressions, compiled

    def render(self, context: Mapping[str, Any], output: Callable[[Any], str]) -> str:
        """The text, each expression's value written by ``output`` (``str``, or a finalize)."""
        values = {source: function(**context) for source, function in self.compiled.items()}
        pieces = [self.literals[0]]
        for source, literal in zip(self.expressions, self.literals[1:], strict=True):
            pieces.append(output(values[source]))
            pieces.append(literal)
        return "".join(pieces)


@lru_cache(maxsize=256)
def flat_template(text: str, env: jinja2.Environment) -> FlatTemplate | None:
    """The template as a ``FlatTemplate``, or None when it has tags, comments, whitespace control
    or anything else only Jinja's own rendering handles (including syntax errors)."""
    literals, expressions, position, opened = [], [], 0, 0
    for token in tokens(text):
        if token.kind == "variable_begin" and token.value == "{{":
            literals.append(text[position : token.start])
            opened = token.start + 2
        elif token.kind == "variable_end" and token.value == "}}":
            expressions.append(text[opened : token.start])
            position = token.start + 2
        elif token.kind.endswith(("_begin", "_end")):
            return None
    literals.append(text[position:])
    if len(literals) != len(expressions) + 1 or any(has_syntax(literal) for literal in literals):
        return None  # the lexer stopped early: let Jinja report the error
    try:
        compiled = {source: env.compile_expression(source, undefined_to_none=False) for source in set(expressions)}
    except jinja2.TemplateSyntaxError:
        return None
    return FlatTemplate(literals, expressions, compiled)
