"""Derive the LALR tables of muxc's grammars from Lark, and write them as Python modules.

``grammar/toml.lark`` goes to ``muxc/syntax/toml/_tables.py`` and ``grammar/muxc.lark`` (the DSL)
to ``muxc/syntax/mux_tables.py``. Lark does the grammar work: it reads the grammar, expands EBNF,
builds the LALR(1) parse table and knows which terminals its contextual lexer tries in each
parser state, in which order. This module flattens that into plain data (strings, ints, tuples
and dicts) that ``muxc.syntax.lalr`` runs without importing Lark, so parsing stays cheap.

Run ``python -m tools.lalr_tables`` after editing a grammar; a test fails while the checked-in
tables are stale (they record a digest of the grammar they were built from).

Invariants of the produced tables (``syntax.lalr`` relies on them):
- ``terminals`` is in Lark's lexer order (priority, then longest possible match first), and
  each state's scanner lists its terminals in that order, so the first alternative of a
  regexp union that matches is the one Lark's lexer would have picked;
- an action is a state number (>= 0: shift, or goto for a nonterminal) or ``~rule`` (< 0:
  reduce by ``rules[rule]``);
- a rule's ``ops`` say how to build its children the way Lark's tree builder would: drop
  filtered tokens, splice the children of ``_inlined`` rules, insert ``None`` for missing
  ``[optional]`` items. ``None`` means the children pass through unchanged. A rule's callback is
  named after its alias (``-> name``) when it has one, else after the rule;
- ``always_accept`` terminals (a post-lexer's, such as the DSL's line breaks) are in every
  state's scanner, as Lark's contextual lexer adds them: the caller's post-lex hook decides;
- no state's scanner holds a keyword (a string terminal) that a regexp terminal of the same
  state also matches whole: Lark would re-type such a match, the runtime does not, so
  ``build_tables`` refuses such a grammar.
"""

from __future__ import annotations

import hashlib
from typing import Any

FORMAT = 2  # bump when the shape of the tables changes
END = "$END"


def grammar_digest(grammar: str) -> str:
    """What the tables were built from: the grammar text and the table format."""
    return hashlib.sha256(f"{FORMAT}\n{grammar}".encode()).hexdigest()


class _PostLex:
    """Stands for a post-lexer: Lark only reads which terminals it always accepts."""

    def __init__(self, always_accept: tuple[str, ...]) -> None:
        self.always_accept = always_accept

    def process(self, stream: Any) -> Any:
        return stream


def build_tables(grammar: str, always_accept: tuple[str, ...] = (), ignore: tuple[str, ...] | None = None
                 ) -> dict[str, Any]:
    """The plain-data LALR tables of ``grammar`` (see the module docstring).

    ``ignore`` overrides which ``%ignore`` terminals the runtime skips before each token (it folds
    them in front of every scanner, so one that another terminal is tried before and always
    shadows must be left out: see ``mux_tables``)."""
    from lark import Lark
    from lark.parsers.lalr_analysis import Shift

    options = {"postlex": _PostLex(always_accept)} if always_accept else {}
    lark = Lark(grammar, parser="lalr", lexer="contextual", start="start", **options)
    table = lark.parser.parser._parse_table
    terminals = _ordered_terminals(lark)
    rank = {name: i for i, (name, _) in enumerate(terminals)}
    numbering = _canonical_state_numbers(table, Shift)
    rules = sorted(
        {arg for actions in table.states.values() for action, arg in actions.values() if action is not Shift},
        key=lambda rule: (str(rule.origin.name), str(rule.expansion), rule.options.empty_indices),
    )
    rule_number = {rule: i for i, rule in enumerate(rules)}
    states = []
    for old in sorted(numbering, key=numbering.__getitem__):
        actions = {
            str(symbol): numbering[arg] if action is Shift else ~rule_number[arg]
            for symbol, (action, arg) in sorted(table.states[old].items())
        }
        accepted = {s for s in actions if s in rank} | set(always_accept)
        scanner = tuple(sorted(accepted, key=rank.__getitem__))
        _refuse_keyword_collisions(lark, accepted)
        states.append((scanner + ((END,) if END in actions else ()), actions))
    return {
        "digest": grammar_digest(grammar),
        "terminals": tuple(terminals),
        "ignore": tuple(str(name) for name in lark.ignore_tokens) if ignore is None else ignore,
        "start_state": numbering[table.start_states["start"]],
        "accept_state": numbering[table.end_states["start"]],
        "states": tuple(states),
        "rules": tuple(_rule_plan(rule) for rule in rules),
    }


def _canonical_state_numbers(table: Any, shift: Any) -> dict[int, int]:
    """Number states in breadth-first order from the start, symbols sorted by name.

    Lark's own numbering depends on set iteration order (string hashing), so without this
    two runs would write different, equally correct files.
    """
    start = table.start_states["start"]
    numbering = {start: 0}
    queue = [start]
    for state in queue:
        for _, (action, arg) in sorted(table.states[state].items()):
            if action is shift and arg not in numbering:
                numbering[arg] = len(numbering)
                queue.append(arg)
    return numbering


def _refuse_keyword_collisions(lark: Any, accepted: set[str]) -> None:
    """Raise if Lark's lexer would read a regexp terminal's match as a keyword in this state."""
    import re

    from lark.lexer import PatternRE, PatternStr

    found = [t for t in lark.terminals if t.name in accepted or t.name in lark.ignore_tokens]
    for regexp in (t for t in found if isinstance(t.pattern, PatternRE)):
        for keyword in (t for t in found if isinstance(t.pattern, PatternStr) and t.priority == regexp.priority):
            match = re.match(regexp.pattern.to_regexp(), keyword.pattern.value)
            if match is not None and match.group() == keyword.pattern.value:
                raise ValueError(f"{regexp.name} matches the keyword {keyword.name} in one parser state")


def _ordered_terminals(lark: Any) -> list[tuple[str, str]]:
    """(name, regexp) for every terminal, sorted the way Lark's lexer tries them."""
    ordered = sorted(
        lark.terminals,
        key=lambda t: (-t.priority, -t.pattern.max_width, -len(t.pattern.value), t.name),
    )
    for terminal in ordered:
        if terminal.pattern.flags:
            raise ValueError(f"terminal {terminal.name} uses regexp flags, which syntax.lalr does not apply")
    return [(str(t.name), t.pattern.to_regexp()) for t in ordered]


def _rule_plan(rule: Any) -> tuple[str, int, str, tuple[tuple[int, bool, int], ...] | None, int, str]:
    """(origin, size, kind, ops, trailing_nones, callback): how to reduce by one rule.

    ``kind`` is ``unit`` (the value is the one child, as is: a ``?rule`` with one child, or
    an ``_inlined`` rule that only splices another), ``splice`` (an ``_inlined`` or EBNF
    helper rule: its children go into its parent), ``expand1`` (a ``?rule``: its only child,
    or a callback when there are several) or ``call`` (a callback named after the rule, or its
    alias).
    """
    size = len(rule.expansion)
    nones = _placeholder_counts(rule.options.empty_indices, size)
    ops = []
    pending = 0
    for index, symbol in enumerate(rule.expansion):
        pending += nones[index]
        if symbol.is_term and symbol.filter_out:
            continue
        splice = not symbol.is_term and symbol.name.startswith("_")
        ops.append((index, splice, pending))
        pending = 0
    trailing = pending + nones[size]
    passthrough = trailing == 0 and len(ops) == size and not any(s or n for _, s, n in ops)
    origin = str(rule.origin.name)
    callback = str(rule.alias or origin)  # Lark names the tree (and calls the transformer) after the alias
    inlined = origin.startswith("_")
    one_child = size == 1 and trailing == 0 and len(ops) == 1 and ops[0][2] == 0
    expand1 = rule.options.expand1 and not rule.alias  # Lark always calls an aliased rule
    if one_child and ((expand1 and not ops[0][1]) or (inlined and ops[0][1])):
        return (origin, size, "unit", None, 0, callback)
    kind = "splice" if inlined else "expand1" if expand1 else "call"
    return (origin, size, kind, None if passthrough else tuple(ops), trailing, callback)


def _placeholder_counts(empty_indices: tuple[bool, ...], size: int) -> list[int]:
    """How many ``None`` placeholders go before each child (and after the last one)."""
    if not empty_indices:
        return [0] * (size + 1)
    flags = "".join("1" if empty else "0" for empty in empty_indices)
    return [len(run) for run in flags.split("0")]


def render_module(tables: dict[str, Any], grammar: str) -> str:
    """Python source of a tables module holding ``tables``, built from ``grammar/<grammar>``."""
    import pprint

    body = pprint.pformat(tables, width=100, sort_dicts=False)
    return (
        f'"""LALR tables of grammar/{grammar}. GENERATED by `python -m tools.lalr_tables`; do not edit."""\n'
        "\n"
        "# fmt: off\n"
        f"TABLES = {body}\n"
    )


def toml_tables() -> dict[str, Any]:
    from muxc.base.resources import grammar_text

    return build_tables(grammar_text("toml.lark"))


def mux_tables() -> dict[str, Any]:
    """The DSL's tables: its post-lexer (``syntax.mux``) sees every line break, inside brackets too.

    ``COMMENT`` is left out of the skipped terminals: Lark tries ``_NL`` first, and ``_NL`` (which
    may start with a comment) matches wherever ``COMMENT`` does in a text ending with a line break,
    which is how ``syntax.mux`` hands its text over. Skipping comments up front would lose them.
    """
    from muxc.base.resources import grammar_text

    return build_tables(grammar_text("muxc.lark"), always_accept=("_NL",), ignore=("WS",))


def main() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "muxc" / "syntax"
    (root / "toml" / "_tables.py").write_text(render_module(toml_tables(), "toml.lark"), encoding="utf-8")
    (root / "mux_tables.py").write_text(render_module(mux_tables(), "muxc.lark"), encoding="utf-8")


if __name__ == "__main__":
    main()
