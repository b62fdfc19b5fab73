"""Derive the LALR tables of ``grammar/toml.lark`` from Lark, and write them as ``_tables.py``.

Lark does the grammar work: it reads the grammar, expands EBNF, builds the LALR(1) parse
table and knows which terminals its contextual lexer tries in each parser state, in which
order. This module flattens that into plain data (strings, ints, tuples and dicts) that
``muxc.syntax.toml._lalr`` runs without importing Lark, so ``import muxc.syntax.toml`` stays cheap.

Run ``python -m tools.toml_tables`` after editing the grammar; a test fails while the
checked-in tables are stale (they record a digest of the grammar they were built from).

Invariants of the produced tables (``_lalr`` relies on them):
- ``terminals`` is in Lark's lexer order (priority, then longest possible match first), and
  each state's scanner lists its terminals in that order, so the first alternative of a
  regexp union that matches is the one Lark's lexer would have picked;
- an action is a state number (>= 0: shift, or goto for a nonterminal) or ``~rule`` (< 0:
  reduce by ``rules[rule]``);
- a rule's ``ops`` say how to build its children the way Lark's tree builder would: drop
  filtered tokens, splice the children of ``_inlined`` rules, insert ``None`` for missing
  ``[optional]`` items. ``None`` means the children pass through unchanged.
"""

from __future__ import annotations

import hashlib
from typing import Any

FORMAT = 1  # bump when the shape of the tables changes
END = "$END"


def grammar_digest(grammar: str) -> str:
    """What the tables were built from: the grammar text and the table format."""
    return hashlib.sha256(f"{FORMAT}\n{grammar}".encode()).hexdigest()


def build_tables(grammar: str) -> dict[str, Any]:
    """The plain-data LALR tables of ``grammar`` (see the module docstring)."""
    from lark import Lark
    from lark.parsers.lalr_analysis import Shift

    lark = Lark(grammar, parser="lalr", lexer="contextual", start="start")
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
        scanner = tuple(sorted((s for s in actions if s in rank), key=rank.__getitem__))
        states.append((scanner + ((END,) if END in actions else ()), actions))
    return {
        "digest": grammar_digest(grammar),
        "terminals": tuple(terminals),
        "ignore": tuple(str(name) for name in lark.ignore_tokens),
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


def _ordered_terminals(lark: Any) -> list[tuple[str, str]]:
    """(name, regexp) for every terminal, sorted the way Lark's lexer tries them."""
    ordered = sorted(
        lark.terminals,
        key=lambda t: (-t.priority, -t.pattern.max_width, -len(t.pattern.value), t.name),
    )
    for terminal in ordered:
        if terminal.pattern.flags:
            raise ValueError(f"terminal {terminal.name} uses regexp flags, which _lalr does not apply")
    return [(str(t.name), t.pattern.to_regexp()) for t in ordered]


def _rule_plan(rule: Any) -> tuple[str, int, str, tuple[tuple[int, bool, int], ...] | None, int]:
    """(origin, size, kind, ops, trailing_nones): how to reduce by one rule.

    ``kind`` is ``unit`` (the value is the one child, as is: a ``?rule`` with one child, or
    an ``_inlined`` rule that only splices another), ``splice`` (an ``_inlined`` or EBNF
    helper rule: its children go into its parent), ``expand1`` (a ``?rule``: its only child,
    or a callback when there are several) or ``call`` (a callback named after the rule).
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
    inlined = origin.startswith("_")
    one_child = size == 1 and trailing == 0 and len(ops) == 1 and ops[0][2] == 0
    if one_child and ((rule.options.expand1 and not ops[0][1]) or (inlined and ops[0][1])):
        return (origin, size, "unit", None, 0)
    kind = "splice" if inlined else "expand1" if rule.options.expand1 else "call"
    return (origin, size, kind, None if passthrough else tuple(ops), trailing)


def _placeholder_counts(empty_indices: tuple[bool, ...], size: int) -> list[int]:
    """How many ``None`` placeholders go before each child (and after the last one)."""
    if not empty_indices:
        return [0] * (size + 1)
    flags = "".join("1" if empty else "0" for empty in empty_indices)
    return [len(run) for run in flags.split("0")]


def render_module(tables: dict[str, Any]) -> str:
    """Python source of ``_tables.py`` holding ``tables``."""
    import pprint

    body = pprint.pformat(tables, width=100, sort_dicts=False)
    return (
        '"""LALR tables of grammar/toml.lark. GENERATED by `python -m tools.toml_tables`; do not edit."""\n'
        "\n"
        "# fmt: off\n"
        f"TABLES = {body}\n"
    )


def main() -> None:
    from pathlib import Path

    from muxc.base.resources import grammar_text

    target = Path(__file__).resolve().parents[1] / "muxc" / "syntax" / "toml" / "_tables.py"
    target.write_text(render_module(build_tables(grammar_text("toml.lark"))), encoding="utf-8")


if __name__ == "__main__":
    main()
