"""A table-driven LALR(1) parser with a contextual lexer, running tables Lark computed.

Lark's own runtime makes a ``Token`` object per token, counts lines as it goes and wraps
every reduction in a generic child filter; on a 450 KB workflow that alone takes twice the
time ``muxc check`` may spend on the whole file. Both front-ends use this one: TOML
(``syntax.toml``) and the DSL (``syntax.mux``). This loop does the same job with less: a
state's scanner is one compiled regexp union of the terminals that state accepts (whitespace
folded in front), tokens are plain ``(text, start, end)`` triples handed to a callback only
when they are shifted, and line/column are computed only when something goes wrong.

Invariants:
- the language accepted, the terminal chosen at each position and the children each rule
  callback receives are those of ``Lark(grammar, parser="lalr", lexer="contextual")`` with
  an inline transformer (tables from ``tools.lalr_tables``, which documents their shape);
- a post-lexer is a hook per terminal, called with each such token as it is scanned, before
  the parser sees it: it may keep the token or drop it (Lark's ``postlex`` filtering a
  stream, for the terminals the tables list as always accepted);
- parsing is iterative: nesting depth costs stack entries, never Python recursion, and is
  capped by ``max_stack`` so that consumers walking the result recursively stay safe;
- nothing here knows TOML: callbacks come from the caller.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

END = "$END"
_EOF_GROUP = "eof"  # regexp group standing for $END (terminal names are upper case)

TokenCallback = Callable[[str, int, int], Any]
RuleCallback = Callable[[Any, list], Any]
PostLexHook = Callable[[Any, str, int, int], bool]  # (context, token, start, end) -> keep it

_UNIT, _SPLICE, _EXPAND1, _CALL = range(4)
_KINDS = {"unit": _UNIT, "splice": _SPLICE, "expand1": _EXPAND1, "call": _CALL}


class SyntaxFailure(Exception):
    """The text does not fit the grammar at ``offset``.

    ``found`` is the terminal scanned there (``$END`` at the end of the text), or ``None``
    when no terminal the parser could accept matches. ``expected`` lists the terminals the
    parser's state accepts (LALR merges lookaheads, so it may list more than fit). ``symbols``
    is the parser's stack as grammar symbols, oldest first: exactly what has been read.
    """

    def __init__(
        self, offset: int, end: int, found: str | None, expected: tuple[str, ...], symbols: list[str]
    ):
        super().__init__(f"unexpected {found or 'text'} at {offset}")
        self.offset = offset
        self.end = end
        self.found = found
        self.expected = expected
        self.symbols = symbols


class TooDeep(Exception):
    """The parser stack outgrew ``max_stack`` at ``offset`` (values nested too deeply)."""

    def __init__(self, offset: int):
        super().__init__(f"nesting too deep at {offset}")
        self.offset = offset


class Parser:
    """Parses text with fixed tables and callbacks; one instance serves any number of texts."""

    def __init__(
        self,
        tables: dict[str, Any],
        token_callbacks: dict[str, TokenCallback],
        rule_callbacks: dict[str, RuleCallback],
        max_stack: int = 1000,
        postlex: dict[str, PostLexHook] | None = None,
    ):
        self._terminals = dict(tables["terminals"])
        self._ignore = "|".join(self._terminals[name] for name in tables["ignore"])
        self._ignore_re = re.compile(f"(?:{self._ignore})*+" if self._ignore else "")
        self._start = tables["start_state"]
        self._accept = tables["accept_state"]
        self._scanner_terms = [scanner for scanner, _ in tables["states"]]
        self._actions = [actions for _, actions in tables["states"]]
        self._scanners: list[Callable[[str, int], re.Match | None] | None] = [None] * len(self._actions)
        self._compiled: dict[tuple[str, ...], Callable[[str, int], re.Match | None]] = {}
        self._token_callbacks = {
            name: token_callbacks.get(name) for name in self._terminals if not name.startswith("_")
        }
        self._token_callbacks.update({name: None for name in self._terminals if name.startswith("_")})
        self._plans = [_plan(rule, rule_callbacks) for rule in tables["rules"]]
        # In an LR automaton every state is entered by one symbol: the stack spells the input.
        self._accessing = {
            target: symbol for actions in self._actions for symbol, target in actions.items() if target >= 0
        }
        self.max_stack = max_stack
        self._postlex = postlex or None
        self._any: Callable[[str, int], re.Match | None] | None = None

    def terminal_pattern(self, name: str) -> str:
        """The regexp of terminal ``name`` (for callers diagnosing a failure)."""
        return self._terminals[name]

    def match_any(self, text: str, pos: int) -> tuple[str, int] | None:
        """(terminal, end) of the first terminal of any state matching at ``pos``, if one does.

        For error messages: tells what stands where the parser's state expected something else.
        """
        if self._any is None:
            alternatives = "|".join(f"(?P<{name}>{pattern})" for name, pattern in self._terminals.items())
            self._any = re.compile(alternatives).match
        match = self._any(text, pos)
        return None if match is None else (match.lastgroup, match.end())

    def skip_ignored(self, text: str, pos: int) -> int:
        """The offset of the first character at or after ``pos`` that is not ignored."""
        return self._ignore_re.match(text, pos).end()

    def parse(self, text: str, pos: int, context: Any) -> Any:
        """Parse ``text`` from offset ``pos``; return the start rule's callback value.

        Raises ``SyntaxFailure`` or ``TooDeep``; callbacks may raise anything.
        """
        actions_of = self._actions
        scanners = self._scanners
        token_callbacks = self._token_callbacks
        plans = self._plans
        accept = self._accept
        max_stack = self.max_stack
        hooks = self._postlex
        states = [self._start]
        values: list = []
        state = self._start
        actions = actions_of[state]
        while True:
            scan = scanners[state] or self._scanner(state)
            match = scan(text, pos)
            if match is None:
                offset = self.skip_ignored(text, pos)
                raise self._failure(offset, offset, None, states)
            term = match.lastgroup
            end = match.end()
            if term == _EOF_GROUP:
                term = END
                token = ""
            else:
                token = match.group(term)
                if hooks is not None and term in hooks and not hooks[term](context, token, end - len(token), end):
                    pos = end  # dropped by the post-lexer: the parser never sees it
                    continue
            while True:
                action = actions.get(term)
                if action is None:
                    raise self._failure(end - len(token), end, term, states)
                if action >= 0:  # shift
                    if len(states) > max_stack:
                        raise TooDeep(end - len(token))
                    callback = token_callbacks[term] if term != END else None
                    values.append(callback(token, end - len(token), end) if callback is not None else None)
                    states.append(action)
                    state = action
                    actions = actions_of[action]
                    break
                size, kind, ops, trailing, callback, origin = plans[~action]
                if kind is _UNIT:
                    state = actions_of[states[-2]][origin]
                    states[-1] = state
                    actions = actions_of[state]
                    continue
                if size:
                    children = values[-size:]
                    del values[-size:]
                    del states[-size:]
                else:
                    children = []
                if ops is not None:
                    children = _arrange(children, ops, trailing)
                if kind is _SPLICE:
                    value = children
                elif kind is _CALL or len(children) != 1:
                    value = callback(context, children)
                else:
                    value = children[0]
                state = actions_of[states[-1]][origin]
                if state == accept:
                    return value
                states.append(state)
                values.append(value)
                actions = actions_of[state]
            pos = end

    def _scanner(self, state: int) -> Callable[[str, int], re.Match | None]:
        """Compile (once per distinct terminal set) the scanner of ``state``."""
        terms = self._scanner_terms[state]
        scanner = self._compiled.get(terms)
        if scanner is None:
            alternatives = [
                f"(?P<{_EOF_GROUP}>\\Z)" if name == END else f"(?P<{name}>{self._terminals[name]})"
                for name in terms
            ]
            prefix = f"(?:{self._ignore})*+" if self._ignore else ""
            scanner = re.compile(f"{prefix}(?:{'|'.join(alternatives)})").match
            self._compiled[terms] = scanner
        self._scanners[state] = scanner
        return scanner

    def _failure(self, offset: int, end: int, found: str | None, states: list[int]) -> SyntaxFailure:
        expected = tuple(name for name in self._actions[states[-1]] if name.isupper())  # terminals
        symbols = [self._accessing[state] for state in states[1:]]
        return SyntaxFailure(offset, end, found, expected, symbols)


def _plan(rule: tuple, callbacks: dict[str, RuleCallback]) -> tuple:
    """The runtime form of one rule: (size, kind, ops, trailing, callback, origin)."""
    origin, size, kind, ops, trailing, name = rule
    code = _KINDS[kind]
    callback = callbacks.get(name)
    if code in (_CALL, _EXPAND1) and callback is None:
        raise LookupError(f"no callback for grammar rule {name!r}")
    return (size, code, ops, trailing, callback, origin)


def _arrange(children: list, ops: tuple, trailing: int) -> list:
    """Children as Lark's tree builder would pass them: filtered, spliced, padded."""
    if not ops:
        return [None] * trailing
    first_index, first_splice, first_nones = ops[0]
    if first_index == 0 and first_splice and not first_nones:
        arranged = children[0]  # left recursion: keep growing the same list
        ops = ops[1:]
    else:
        arranged = []
    for index, splice, nones in ops:
        if nones:
            arranged.extend([None] * nones)
        if splice:
            arranged.extend(children[index])
        else:
            arranged.append(children[index])
    if trailing:
        arranged.extend([None] * trailing)
    return arranged
