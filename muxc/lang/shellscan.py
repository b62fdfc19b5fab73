"""Where a spot in a shell command sits, as ``sh`` reads it: bare word, quotes, heredoc, comment.

muxc never puts a value's text into a command: a value reaches the child as an environment
variable, and the command holds a reference to it (see ``muxc.run.shellvalues``). This scanner
only decides how that reference is written so the value arrives as one intact word — ``"${V}"``
outside quotes, ``${V}`` inside double quotes or an unquoted heredoc body, ``'"${V}"'`` to step out
of single quotes — and finds the places where no reference can work (a quoted heredoc body, a
comment, arithmetic). It is not a safety boundary: if it misjudged a spot, the reference would be
split into words or printed literally, but the value would still never be parsed as shell code.

It follows POSIX ``sh``: quotes, backslashes, ``$( )`` and backticks (a new command inside, even
within double quotes or a heredoc body), ``$(( ))`` arithmetic, ``#`` comments at the start of a
word, and heredocs whose delimiter is any shell word (``<<EOF``, ``<<'EOF'``, ``<<\\EOF``,
``<<"END-OF"``, ``<<-EOF``); the bodies start on the line after the operator, in order.
"""

from __future__ import annotations

from collections import deque

# The template fields that are shell commands.
SHELL_FIELDS = frozenset({"run", "verify"})

BARE, DOUBLE, SINGLE = "bare", "double", "single"
HEREDOC, QUOTED_HEREDOC, COMMENT, ARITHMETIC = "heredoc", "quoted heredoc", "comment", "arithmetic"
DELIMITER = "heredoc delimiter"

# Where a reference cannot carry a value: the place in words, and what to write instead (check and
# build both say them).
PLACES = {QUOTED_HEREDOC: "the body of a quoted heredoc", COMMENT: "a shell comment",
          ARITHMETIC: "shell arithmetic $(( ))", DELIMITER: "a heredoc's delimiter word"}
UNREACHABLE = {
    QUOTED_HEREDOC: "a quoted heredoc (<<'EOF' or <<\\EOF) takes its body literally, so no value can reach "
                    "it; write the delimiter unquoted (<<EOF): muxc passes the value as data either way",
    COMMENT: "a value in a shell comment does nothing; move it out of the comment, or into a "
             "Jinja comment {# ... #} if it is a note for the reader",
    DELIMITER: "the word after << is the line that ends the heredoc, read before any value exists; put the "
               "value in the body, on a line below <<EOF ({{- at the start of a line pulls it up onto the << line)",
    ARITHMETIC: "the shell evaluates a value inside $(( )) as an expression, which can run code in some "
                "shells; compute it with a program instead, e.g. $(expr {{ n }} + 1)",
}

_WORD_END = frozenset(" \t\n;&|<>()")
_WORD_START_AFTER = frozenset(" \t\n;&|()<>")


class Heredoc:
    __slots__ = ("delimiter", "quoted", "strip_tabs")

    def __init__(self, delimiter: str, quoted: bool, strip_tabs: bool) -> None:
        self.delimiter, self.quoted, self.strip_tabs = delimiter, quoted, strip_tabs


class Scanner:
    """Reads a command left to right (``feed``); ``context`` is where the next character lands.

    ``feed`` may be called many times with consecutive pieces; a piece may end anywhere."""

    def __init__(self) -> None:
        self.state = BARE
        self.nested: list[list] = []  # open substitutions, innermost last: [state outside, closer, depth]
        self.pending: deque[Heredoc] = deque()  # heredocs opened on the current line, bodies not started
        self.heredoc: Heredoc | None = None  # the body being read
        self.line: list[str] = []  # the current line so far (a heredoc body's terminator test)
        self.previous = "\n"  # the last character read (word starts)
        self.carry = ""  # an incomplete operator at the end of the last piece (`<`, `$`, `$(`)
        self.in_delimiter = False  # the last piece ended inside a heredoc's delimiter word

    def feed(self, text: str) -> None:
        text, self.carry = self.carry + text, ""
        self.in_delimiter = False
        index = 0
        while index < len(text):
            if self._incomplete(text, index):
                self.carry = text[index:]
                return
            index = self._step(text, index)

    def placeholder(self) -> None:
        """A value stands here: one word character, for what follows (``{{ v }}#x`` is no comment)."""
        self.feed("\x00")

    @property
    def context(self) -> str:
        if self.in_delimiter or self.carry.startswith("<<"):
            return DELIMITER
        if self.heredoc is not None and not self._inside_body_substitution():
            return QUOTED_HEREDOC if self.heredoc.quoted else HEREDOC
        if self.nested and self.nested[-1][1] == "))":
            return ARITHMETIC
        return self.state

    # --- reading ---------------------------------------------------------------------------

    def _incomplete(self, text: str, index: int) -> bool:
        """A piece ends inside an operator whose meaning the next piece decides (`<` + `<EOF`)."""
        if len(text) - index > 3:  # asked at every character: no slice of the rest (quadratic on a long line)
            return False
        tail = text[index:]
        return tail[0] in "<$" and any(op.startswith(tail) and op != tail
                                                          for op in ("<<", "<<-", "$(", "$(("))

    def _advance(self, char: str) -> None:
        self.previous = char
        if char == "\n":
            self._newline()
        else:
            self.line.append(char)

    def _step(self, text: str, index: int) -> int:
        char = text[index]
        if self.heredoc is not None and not self._inside_body_substitution():
            return self._body(text, index, char)
        if self.state == COMMENT:
            if char == "\n":
                self.state = BARE
            self._advance(char)
            return index + 1
        if self.state == SINGLE:
            if char == "'":
                self.state = BARE
            self._advance(char)
            return index + 1
        if self.state == DOUBLE:
            return self._double(text, index, char)
        return self._bare(text, index, char)

    def _take(self, text: str, index: int, width: int) -> int:
        for char in text[index : index + width]:
            self._advance(char)
        return index + width

    def _double(self, text: str, index: int, char: str) -> int:
        if char == "\\":
            return self._take(text, index, 2)
        opened = self._open_substitution(text, index)
        if opened:
            return opened
        if char == '"':
            self.state = BARE
        self._advance(char)
        return index + 1

    def _bare(self, text: str, index: int, char: str) -> int:
        if char == "\\":
            return self._take(text, index, 2)
        closed = self._close_substitution(text, index)
        if closed:
            return closed
        opened = self._open_substitution(text, index)
        if opened:
            return opened
        if char == "'":
            self.state = SINGLE
        elif char == '"':
            self.state = DOUBLE
        elif char == "#" and self.previous in _WORD_START_AFTER:
            self.state = COMMENT
        elif text.startswith("<<", index) and not text.startswith("<<<", index):
            return self._heredoc_operator(text, index)
        self._advance(char)
        return index + 1

    # --- substitutions ---------------------------------------------------------------------

    def _open_substitution(self, text: str, index: int) -> int:
        """``$((``, ``$(`` or a backtick: a new command (or an expression) until its closer."""
        for opener, closer in (("$((", "))"), ("$(", ")"), ("`", "`")):
            if text.startswith(opener, index):
                self.nested.append([self.state, closer, 0, self.heredoc])
                self.state = BARE
                return self._take(text, index, len(opener))
        return 0

    def _close_substitution(self, text: str, index: int) -> int:
        if not self.nested:
            return 0
        top = self.nested[-1]
        char = text[index]
        if top[1] == "`":
            return self._closed(text, index, 1) if char == "`" else 0
        if char == "(":
            top[2] += 1
        elif char == ")" and top[2]:
            top[2] -= 1
        elif top[1] == "))" and text.startswith("))", index):
            return self._closed(text, index, 2)
        elif top[1] == ")" and char == ")":
            return self._closed(text, index, 1)
        return 0

    def _closed(self, text: str, index: int, width: int) -> int:
        self.state = self.nested.pop()[0]
        return self._take(text, index, width)

    def _inside_body_substitution(self) -> bool:
        """True inside a ``$( )`` opened within the current heredoc body (a command again)."""
        return bool(self.nested) and self.nested[-1][3] is self.heredoc and self.heredoc is not None

    # --- heredocs --------------------------------------------------------------------------

    def _heredoc_operator(self, text: str, index: int) -> int:
        end = index + 2
        strip = text.startswith("-", end)
        end += strip
        while end < len(text) and text[end] in " \t":
            end += 1
        word, quoted, stop = _shell_word(text, end)
        self.in_delimiter = stop == len(text)  # the word may go on in the next piece
        if not word and not quoted:
            return self._take(text, index, 2)
        self.pending.append(Heredoc(word, quoted, strip))
        return self._take(text, index, stop - index)

    def _body(self, text: str, index: int, char: str) -> int:
        heredoc = self.heredoc
        assert heredoc is not None
        if not heredoc.quoted and char == "\\":
            return self._take(text, index, 2)
        if not heredoc.quoted:
            opened = self._open_substitution(text, index)
            if opened:
                return opened
        self._advance(char)
        return index + 1

    def _newline(self) -> None:
        line = "".join(self.line)
        self.line = []
        if self.heredoc is not None and not self._inside_body_substitution() and \
                (line.lstrip("\t") if self.heredoc.strip_tabs else line) == self.heredoc.delimiter:
            self.heredoc = None
        if self.heredoc is None and self.pending:
            self.heredoc = self.pending.popleft()


def _shell_word(text: str, index: int) -> tuple[str, bool, int]:
    """(the word with quotes removed, whether any part was quoted, where it ends)."""
    word: list[str] = []
    quoted = False
    while index < len(text) and text[index] not in _WORD_END:
        char = text[index]
        if char in "'\"":
            close = text.find(char, index + 1)
            close = len(text) if close == -1 else close
            word.append(text[index + 1 : close])
            quoted, index = True, close + 1
        elif char == "\\":
            word.append(text[index + 1 : index + 2])
            quoted, index = True, index + 2
        else:
            word.append(char)
            index += 1
    return "".join(word), quoted, index
