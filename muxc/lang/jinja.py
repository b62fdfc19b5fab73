"""What a template refers to, read from Jinja's own AST: names, attribute chains, filters, tests.

``analyze`` parses a template (or an ``if``/``for_each`` expression) with Jinja's parser and
returns every free name with the attribute/item chain after it (``steps.fix.output`` is
``Ref("steps", ("fix", "output"))``), every filter and test used, which references are guarded
by ``is defined`` or ``| default``, and the syntax error if there is one. Filters come from the
AST, so a shell pipe (``| grep``) in literal text is never mistaken for one.

Positions are found only when a diagnostic needs them (``locate``): the lexer is re-run and its
tokens are matched to the reference's line, which keeps checking a clean workflow fast.
"""

from __future__ import annotations

from functools import cache, lru_cache

import msgspec
from jinja2 import Environment, nodes
from jinja2.exceptions import TemplateSyntaxError

JINJA_GLOBALS = frozenset({"range", "dict", "lipsum", "cycler", "joiner", "namespace", "loop", "self", "varargs",
                           "kwargs", "caller"})
_DELIMITERS = ("{{", "{%", "{#")


class Ref(msgspec.Struct, frozen=True):
    root: str
    path: tuple[str, ...]  # attribute names and constant keys after the root
    lineno: int  # 1-based line within the template
    called: bool = False  # the chain is called, as in memory.facts(...)


class Use(msgspec.Struct, frozen=True):
    name: str
    lineno: int


class TemplateInfo(msgspec.Struct, frozen=True):
    refs: tuple[Ref, ...] = ()
    filters: tuple[Use, ...] = ()
    tests: tuple[Use, ...] = ()
    guarded: frozenset[tuple[str, tuple[str, ...]]] = frozenset()  # (root, path) under `is defined`/default
    error: str | None = None
    error_line: int | None = None
    is_expression: bool = False
    shape: tuple = ()  # expressions only: the top node's shape, see ``_shape``
    volatile: bool = False  # reads the clock ("now" | strftime) or randomness (| random)


@cache
def environment() -> Environment:
    return Environment()


def has_syntax(text: str) -> bool:
    """True when the text could contain Jinja at all."""
    return any(d in text for d in _DELIMITERS)


EXPRESSION_PREFIX = "{{ "


def expression_source(text: str) -> tuple[str, int]:
    """An ``if``/``for_each`` expression as a template, and how far the text moved right.

    A fully wrapped ``{{ expr }}`` is accepted too (a common way to write it)."""
    stripped = text.strip()
    if stripped.startswith("{{") and stripped.endswith("}}") and stripped.count("{{") == 1:
        return text, 0
    return EXPRESSION_PREFIX + text + " }}", len(EXPRESSION_PREFIX)


@cache
def analyze(text: str, expression: bool = False) -> TemplateInfo:
    """References, filters and tests of a template; memoised because identical texts repeat.

    A name assigned anywhere in the template (``{% for x in ... %}``, ``{% set x %}``, macro
    parameters) counts as local: Jinja's own ``find_undeclared_variables`` would compile the
    template, which is slow and fails on filters it does not know."""
    if not expression and not has_syntax(text):
        return TemplateInfo()
    source = expression_source(text)[0] if expression else text
    try:
        tree = environment().parse(source)
    except TemplateSyntaxError as error:
        message = error.message or "invalid template"
        return TemplateInfo(error=_expression_words(message, text) if expression else message,
                            error_line=error.lineno, is_expression=expression)
    except RecursionError:
        return TemplateInfo(error="the template is nested too deeply", error_line=1, is_expression=expression)
    try:
        return _collect(tree, expression)
    except RecursionError:  # a tree Jinja could build iteratively, such as thousands of chained filters
        return TemplateInfo(error="the template is nested too deeply", error_line=1, is_expression=expression)


_EXPRESSION_WORDS = (
    ("unexpected 'end of print statement'", "unexpected end of the expression"),
    ("expected token 'end of print statement'", "expected the end of the expression"),
    ("got 'end of print statement'", "got the end of the expression"),
)


def _expression_words(message: str, text: str) -> str:
    """Jinja's message about an expression, without the ``{{ }}`` it was wrapped in to parse it
    (the user never wrote a print statement, nor the '}' Jinja may complain about)."""
    if not text.strip():
        return "the expression is empty"
    for jinja, ours in _EXPRESSION_WORDS:
        message = message.replace(jinja, ours)
    if "}" not in text:
        message = message.replace("unexpected '}'", "unexpected end of the expression")
    return message


class _Walk:
    """One pass over the tree collecting everything ``TemplateInfo`` needs."""

    def __init__(self) -> None:
        self.local: set[str] = set()
        self.chains: list[Ref] = []
        self.filters: list[nodes.Filter] = []
        self.tests: list[nodes.Test] = []
        self.called: set[int] = set()

    def visit(self, node: nodes.Node, in_chain: bool = False) -> None:
        chain = None if in_chain else _chain_of(node)
        if chain is not None:
            self.chains.append(Ref(chain[0], chain[1], chain[2], id(node) in self.called))
        if isinstance(node, nodes.Name) and node.ctx in ("store", "param"):
            self.local.add(node.name)
        elif isinstance(node, nodes.Filter):
            self.filters.append(node)
        elif isinstance(node, nodes.Test):
            self.tests.append(node)
        elif isinstance(node, nodes.Call):
            self.called.add(id(node.node))
        link = isinstance(node, (nodes.Getattr, nodes.Getitem))
        for child in node.iter_child_nodes():
            self.visit(child, in_chain=(in_chain or chain is not None) and link and child is node.node)


def _collect(tree: nodes.Template, expression: bool) -> TemplateInfo:
    walk = _Walk()
    walk.visit(tree)
    refs = sorted((r for r in walk.chains if r.root not in walk.local and r.root not in JINJA_GLOBALS),
                  key=lambda ref: ref.lineno)
    filters = tuple(Use(f.name, f.lineno) for f in walk.filters)
    tests = tuple(Use(t.name, t.lineno) for t in walk.tests)
    shape = _shape(_top_expression(tree)) if expression else ()
    return TemplateInfo(tuple(refs), filters, tests, frozenset(_guarded(walk)), is_expression=expression,
                        shape=shape, volatile=any(_is_volatile(f) for f in walk.filters))


def _is_volatile(node: nodes.Filter) -> bool:
    if node.name == "random":
        return True
    return node.name == "strftime" and isinstance(node.node, nodes.Const) and node.node.value == "now"


def _top_expression(tree: nodes.Template) -> nodes.Node | None:
    body = tree.body
    if len(body) == 1 and isinstance(body[0], nodes.Output) and len(body[0].nodes) == 1:
        return body[0].nodes[0]
    return None


def _shape(node: nodes.Node | None) -> tuple:
    """A small summary of an expression, enough to tell what type it yields.

    ("ref", root, path) | ("call", root, path) | ("filter", name, inner) | ("list",) | ("dict",)
    | ("const", type name) | ("other",)"""
    if node is None:
        return ("other",)
    chain = _chain_of(node)
    if chain is not None:
        return ("ref", chain[0], chain[1])
    if isinstance(node, nodes.Filter):
        return ("filter", node.name, _shape(node.node))
    if isinstance(node, nodes.Call):
        callee = _chain_of(node.node)
        return ("call", callee[0], callee[1]) if callee else ("other",)
    if isinstance(node, (nodes.List, nodes.Tuple)):
        return ("list",)
    if isinstance(node, nodes.Dict):
        return ("dict",)
    if isinstance(node, nodes.Const):
        return ("const", type(node.value).__name__)
    return ("other",)


def _chain_of(node: nodes.Node) -> tuple[str, tuple[str, ...], int] | None:
    path: list[str] = []
    current = node
    while isinstance(current, (nodes.Getattr, nodes.Getitem)):
        if isinstance(current, nodes.Getattr):
            path.append(current.attr)
        elif isinstance(current.arg, nodes.Const) and isinstance(current.arg.value, (str, int)):
            path.append(str(current.arg.value))
        else:
            path.clear()  # a computed key ends what we can know statically
        current = current.node
    if isinstance(current, nodes.Name) and current.ctx == "load":
        return current.name, tuple(reversed(path)), current.lineno
    return None


def _guarded(walk: _Walk) -> set[tuple[str, tuple[str, ...]]]:
    guarded = set()
    for test in walk.tests:
        if test.name in ("defined", "undefined"):
            guarded |= _chains_in(test.node)
    for flt in walk.filters:
        if flt.name in ("default", "d") and flt.node is not None:
            guarded |= _chains_in(flt.node)
    return guarded


def _chains_in(node: nodes.Node) -> set[tuple[str, tuple[str, ...]]]:
    chain = _chain_of(node)
    return {(chain[0], chain[1])} if chain else set()


# --- positions, on demand --------------------------------------------------------------


class Token(msgspec.Struct, frozen=True):
    kind: str
    value: str
    start: int
    lineno: int


@lru_cache(maxsize=4)
def tokens(source: str) -> tuple[Token, ...]:
    """Jinja's tokens with their character offsets in ``source`` (best effort past errors).

    Memoised: the shell-values pass, diagnostics' positions and rendering all read the same
    texts, and lexing a huge one is the slow part."""
    out: list[Token] = []
    position = 0
    try:
        for lineno, kind, value in environment().lex(source):
            position = _advance(source, position, kind, value)
            if kind not in ("data", "whitespace"):
                out.append(Token(kind, value, position, lineno))
            if source.startswith(value, position):
                position += len(value)
    except TemplateSyntaxError:
        pass
    return tuple(out)


def _advance(source: str, position: int, kind: str, value: str) -> int:
    """Where a token starts. Data may have been normalised by the lexer (newlines, stripped
    whitespace), so it is skipped up to the next delimiter instead of being searched for."""
    if kind == "data":
        if source.startswith(value, position):
            return position
        nexts = [p for p in (source.find(d, position) for d in _DELIMITERS) if p != -1]
        return min(nexts) if nexts else len(source)
    found = source.find(value, position)
    return found if found != -1 else position


def locate_chain(source: str, ref: Ref, depth: int, occurrence: int = 0) -> tuple[int, int] | None:
    """Offsets in ``source`` of ``ref``'s root (depth 0) or of its ``depth``-th path part.

    The ``occurrence``-th place on the reference's line that spells the whole chain wins (the
    same chain written twice on a line is two references; past the last, the last); failing
    that, the first place that spells its root, as far as it spells the chain."""
    parts = (ref.root, *ref.path)
    line = _line_index(source, ref.lineno)
    if line is None or not line.chains.get(parts[:1]):
        return None
    places = _spelling(line, parts)
    start = places[min(occurrence, len(places) - 1)] if places else line.chains[parts[:1]][0]
    spelled = _spell(line.tokens, start, parts)
    token = spelled[min(depth, len(spelled) - 1)]
    return token.start, token.start + len(token.value)


# Positions are asked for once per diagnostic, and a huge template can have a diagnostic per
# expression: the lexer runs once per source and each line is indexed once, so locating every
# reference of a template takes time linear in its size, not quadratic.
_AFTER = {"|": "filter", "is": "test", "not": "test"}  # a filter's name follows `|`, a test's `is (not)`
_CHAIN_CAP = 8  # chains are indexed by their spelling up to this length; longer ones are rare


class _Line(msgspec.Struct):
    tokens: tuple[Token, ...]
    chains: dict[tuple[str, ...], list[int]]  # a chain's spelling (each prefix) -> its root tokens' indices
    after: dict[tuple[str, str], list[Token]]  # ("filter" | "test", name) -> its name tokens, in order


@lru_cache(maxsize=4)
def _lines(source: str) -> dict[int, tuple[Token, ...]]:
    by_line: dict[int, list[Token]] = {}
    for token in tokens(source):
        by_line.setdefault(token.lineno, []).append(token)
    return {lineno: tuple(line) for lineno, line in by_line.items()}


@lru_cache(maxsize=64)
def _line_index(source: str, lineno: int) -> _Line | None:
    line = _lines(source).get(lineno)
    if line is None:
        return None
    chains: dict[tuple[str, ...], list[int]] = {}
    after: dict[tuple[str, str], list[Token]] = {}
    for index, token in enumerate(line):
        if token.kind != "name":
            continue
        spelling = tuple(value for _, value in _chain(line, index, _CHAIN_CAP))
        for length in range(1, len(spelling) + 1):
            chains.setdefault(spelling[:length], []).append(index)
        kind = _AFTER.get(line[index - 1].value) if index else None
        if kind is not None:
            after.setdefault((kind, token.value), []).append(token)
    return _Line(line, chains, after)


def _spelling(line: _Line, parts: tuple[str, ...]) -> list[int]:
    """The root tokens of the places on the line that spell all of ``parts``, in order."""
    if len(parts) <= _CHAIN_CAP:
        return line.chains.get(parts, [])
    return [i for i in line.chains.get(parts[:_CHAIN_CAP], []) if len(_spell(line.tokens, i, parts)) == len(parts)]


def _chain(line: tuple[Token, ...], start: int, most: int) -> list[tuple[Token, str]]:
    """The tokens of the a.b['c'] chain from ``line[start]`` (at most ``most``), with the name or
    key each spells."""
    found = [(line[start], line[start].value)]
    index = start + 1
    while len(found) < most:
        if index + 1 < len(line) and line[index].value == ".":
            found.append((line[index + 1], line[index + 1].value))
            index += 2
        elif index + 2 < len(line) and line[index].value == "[" and _literal(line[index + 1]) is not None:
            found.append((line[index + 1], _literal(line[index + 1])))
            index += 3
        else:
            break
    return found


def _spell(line: tuple[Token, ...], start: int, parts: tuple[str, ...]) -> list[Token]:
    """The tokens spelling a prefix of ``parts`` as a.b['c'] from ``line[start]``."""
    spelled = []
    for (token, value), part in zip(_chain(line, start, len(parts)), parts):
        if value != part:
            break
        spelled.append(token)
    return spelled or [line[start]]


def _literal(token: Token) -> str | None:
    if token.kind == "string":
        return token.value[1:-1]
    if token.kind == "integer":
        return token.value
    return None


def locate_filter(source: str, use: Use, occurrence: int = 0) -> tuple[int, int] | None:
    """Offsets of a filter's name (the token after ``|`` on its line)."""
    return _locate_after(source, use, occurrence, "filter")


def locate_test(source: str, use: Use, occurrence: int = 0) -> tuple[int, int] | None:
    """Offsets of a test's name (the token after ``is`` or ``is not`` on its line)."""
    return _locate_after(source, use, occurrence, "test")


def _locate_after(source: str, use: Use, occurrence: int, kind: str) -> tuple[int, int] | None:
    line = _line_index(source, use.lineno)
    places = line.after.get((kind, use.name), []) if line is not None else []
    if occurrence >= len(places):
        return None
    return places[occurrence].start, places[occurrence].start + len(use.name)


def locate_line(source: str, lineno: int) -> tuple[int, int]:
    """The first to last non-blank character of a line of ``source``."""
    lines = source.split("\n")
    lineno = max(1, min(lineno, len(lines)))
    start = sum(len(line) + 1 for line in lines[: lineno - 1])
    text = lines[lineno - 1]
    lead = len(text) - len(text.lstrip())
    return start + lead, start + max(lead + 1, len(text.rstrip()))
