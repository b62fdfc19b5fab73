"""Shell auto-escaping that knows where each value lands in the command.

llm-mux single-quotes every interpolated value, which breaks values inside double quotes and
heredocs and quotes ``| shell_escape`` twice. Here the command's literal text is scanned like a
shell reads it, and each ``{{ ... }}`` gets the escaping its position needs:

- a bare word: ``shlex.quote`` (``{{ f }}`` with f = ``a b`` gives ``'a b'``);
- inside ``"..."``: backslash before ``\\ " $ ` `` (the value stays one double-quoted string);
- inside ``'...'``: ``'`` becomes ``'\\''``;
- in an unquoted heredoc body: backslash before ``\\ $ ` ``; in a quoted one (``<<'EOF'``): the value
  as is — and a value holding the heredoc's terminator line is refused, since it would end the
  heredoc early and run the rest as commands;
- in a comment: the value with its line breaks turned into spaces (a new line would be a command).

Inside ``$( )`` or backticks — within double quotes too — a new command starts, so the rules apply
afresh there (``"$(cat {{ f }})"`` quotes f as a bare word); inside backticks each value also gets
the extra backslashes the shell removes there first.

A value that already went through ``| shell_escape`` is left alone wherever it is.
"""

from __future__ import annotations

import re
import shlex

from muxc.check.jinja_refs import tokens

BARE, DOUBLE, SINGLE, HEREDOC, HEREDOC_RAW, COMMENT = "bare", "double", "single", "heredoc", "raw", "comment"
_HEREDOC = re.compile(r"<<(-?)[ \t]*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")


class ShellSafe(str):
    """Text already escaped for the shell (the result of ``| shell_escape``)."""

    __slots__ = ()


def shell_escape(value: object) -> ShellSafe:
    return ShellSafe(shlex.quote(str(value)))


def _escape_double(text: str) -> str:
    return re.sub(r'([\\"$`])', r"\\\1", text)


def _escape_heredoc(text: str) -> str:
    return re.sub(r"([\\$`])", r"\\\1", text)


ESCAPERS = {
    BARE: lambda text: shlex.quote(text),
    DOUBLE: _escape_double,
    SINGLE: lambda text: text.replace("'", "'\\''"),
    HEREDOC: _escape_heredoc,
    HEREDOC_RAW: lambda text: text,
    COMMENT: lambda text: text.replace("\r", " ").replace("\n", " "),
}


def escape_for(context: str, value: object, terminator: str | None = None) -> str:
    if isinstance(value, ShellSafe):
        return str(value)
    text = str(value)
    if terminator is not None and any(line.strip("\t") == terminator for line in text.splitlines()):
        from jinja2.exceptions import TemplateRuntimeError

        raise TemplateRuntimeError(f"a value holds the line {terminator!r}, which would end the heredoc early; "
                                   "pass it another way (a file, or printf with an argument)")
    return ESCAPERS[context](text)


def _in_backticks(escape: object) -> object:
    """Inside backticks the shell first removes one backslash before ``\\ $ ` ``: add it back."""
    return lambda text: re.sub(r"([\\$`])", r"\\\1", escape(text))


ESCAPERS.update({f"{context}_bt": _in_backticks(escape) for context, escape in list(ESCAPERS.items())})


class _Scanner:
    """Follows shell quoting across the literal parts of a command template."""

    def __init__(self) -> None:
        self.state = BARE
        self.pending: list[tuple[str, bool]] = []  # heredocs opened on the current line
        self.heredoc: tuple[str, bool, bool] | None = None  # (word, quoted, strip tabs)
        self.line = ""  # text of the current line so far (for heredoc terminators)
        # open command substitutions, innermost last: [state outside it, its closer, open parens]
        self.nested: list[list] = []

    def feed(self, text: str) -> None:
        index = 0
        while index < len(text):
            index = self._step(text, index)

    def _step(self, text: str, index: int) -> int:
        char = text[index]
        if char == "\n":
            self._newline()
            return index + 1
        self.line += char
        if self.heredoc is not None or self.state == COMMENT:
            return index + 1
        if self.state == SINGLE:
            self.state = BARE if char == "'" else SINGLE
        elif self.state == DOUBLE:
            if char == "\\":
                self.line += text[index + 1 : index + 2]
                return index + 2
            if char == "`" or text.startswith("$(", index):
                return self._open_substitution(text, index, char)
            self.state = BARE if char == '"' else DOUBLE
        else:
            return self._bare(text, index, char)
        return index + 1

    def _open_substitution(self, text: str, index: int, char: str) -> int:
        """``$(`` or a backtick: what follows is a new command, read as bare words again (even
        inside double quotes), until the matching ``)`` or backtick."""
        self.nested.append([self.state, "`" if char == "`" else ")", 0])
        self.state = BARE
        width = 1 if char == "`" else 2
        self.line += text[index + 1 : index + width]
        return index + width

    def _close_substitution(self, char: str) -> bool:
        """Follow parentheses in a ``$( )``; True when ``char`` ends the innermost substitution."""
        if not self.nested:
            return False
        top = self.nested[-1]
        if top[1] == "`":
            if char != "`":
                return False
        elif char == "(":
            top[2] += 1
            return False
        elif char != ")":
            return False
        elif top[2]:
            top[2] -= 1
            return False
        self.state = self.nested.pop()[0]
        return True

    def _bare(self, text: str, index: int, char: str) -> int:
        if char == "\\":
            self.line += text[index + 1 : index + 2]
            return index + 2
        if self._close_substitution(char):
            return index + 1
        if char == "`" or text.startswith("$(", index):
            return self._open_substitution(text, index, char)
        if char == "'":
            self.state = SINGLE
        elif char == '"':
            self.state = DOUBLE
        elif char == "#" and (index == 0 or text[index - 1] in " \t;&|(") and self.line.strip() != "#!":
            self.state = COMMENT
        elif char == "<":
            match = _HEREDOC.match(text, index)
            if match:
                self.pending.append((match.group(3), bool(match.group(2)), bool(match.group(1))))
                self.line += text[index + 1 : match.end()]
                return match.end()
        return index + 1

    def _newline(self) -> None:
        if self.heredoc is not None:
            word, _, strip = self.heredoc
            if (self.line.lstrip("\t") if strip else self.line) == word:
                self.heredoc = None
        if self.state == COMMENT:
            self.state = BARE
        if self.heredoc is None and self.pending:
            word, quoted, strip = self.pending.pop(0)
            self.heredoc = (word, quoted, strip)
        self.line = ""

    @property
    def context(self) -> str:
        if self.heredoc is not None:
            return HEREDOC_RAW if self.heredoc[1] else HEREDOC
        return self.state + "_bt" if any(closer == "`" for _, closer, _ in self.nested) else self.state

    @property
    def filter_call(self) -> str:
        """The filter (with its argument) that escapes a value here."""
        if self.heredoc is not None:
            return f"__shell_{self.context}({self.heredoc[0]!r})"
        return f"__shell_{self.context}"


def annotate(template: str) -> str:
    """The template with each ``{{ expr }}`` wrapped to escape for where it sits in the command.

    ``{{ x }}`` inside double quotes becomes ``{{ x | __shell_double }}``; an expression whose last
    filter is ``shell_escape`` is left as written."""
    toks = tokens(template)
    inserts: list[tuple[int, str]] = []
    scanner = _Scanner()
    position = opened = 0
    group: list = []
    for token in toks:
        if token.kind == "variable_begin":
            scanner.feed(template[position : token.start])
            group = []
            opened = token.start + len(token.value)
        elif token.kind == "variable_end":
            if not _ends_with_shell_escape(group):
                # parenthesised, so `{{ a ~ b }}` escapes the whole value, not just b
                inserts += [(opened, " ("), (token.start, f") | {scanner.filter_call} ")]
            position = token.start + len(token.value)
        else:
            group.append(token)
        if token.kind in ("block_end", "comment_end"):
            position = token.start + len(token.value)
        elif token.kind in ("block_begin", "comment_begin"):
            scanner.feed(template[position : token.start])
    out = template
    for offset, text in sorted(inserts, reverse=True):  # from the end, so earlier offsets stay valid
        out = out[:offset] + text + out[offset:]
    return out


def _ends_with_shell_escape(group: list) -> bool:
    names = [t.value for t in group if t.kind == "name"]
    ops = [t.value for t in group if t.kind == "operator"]
    return bool(names) and names[-1] == "shell_escape" and "|" in ops


def filters() -> dict[str, object]:
    """The ``__shell_<context>`` filters ``annotate`` inserts (heredoc ones take the terminator)."""
    return {f"__shell_{context}": (lambda value, terminator=None, c=context: escape_for(c, value, terminator))
            for context in ESCAPERS}
