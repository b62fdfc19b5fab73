"""Commands every POSIX ``sh`` parses, recognised without starting one.

``sh -n`` costs a process (about half a millisecond) per command; a workflow of 10,000 ``cp a b``
steps would spend seconds proving what is plain to see. ``plainly_parses`` says yes only for a
small subset of the shell language whose every member parses in dash, bash (``sh`` mode or not)
and any POSIX sh:

- words made of plain characters ``A-Z a-z 0-9 _ . / , : = + @ % -``, single-quoted strings,
  double-quoted strings holding no ``\\``, backquote, ``!`` and no ``$`` but in ``$NAME`` or
  ``${NAME}``, and those two expansions (or ``$1``, ``$@``, ``$#``...) unquoted: so no command
  substitution, no ``${x:-...}``, no unquoted globs, brackets, braces, parentheses, backslashes,
  ``#``, ``!``, ``^``, ``~``, and nothing outside ASCII unquoted; no word is a reserved word of any
  common sh (``if``, ``fi``, ``function``, ``time``, ...), which a quoted one never is;
- simple commands that start with such a word, followed by words and redirections (``<``, ``>``,
  ``>>`` then a word; ``<&``/``>&`` then a number or ``-``; no here-documents, nor the rarer
  ``<>`` and ``>|`` a minimal shell might not know);
- those joined by ``|``, ``&&`` and ``||`` (a line break may follow each), and the resulting lists
  separated by one ``;``, ``&`` or line breaks, with an optional ``;`` or ``&`` at the very end.

Invariant: sound, never complete. ``True`` means ``sh -n`` accepts the command (tests compare it
with real shells on a generated corpus); ``False`` only means "ask sh".
"""

from __future__ import annotations

import re

from muxc.base.shellwords import PLAIN_CHARACTERS, RESERVED_WORDS

_NAME = r"[A-Za-z_][A-Za-z0-9_]*+"
_EXPANSION = rf"\$(?:{_NAME}|\{{{_NAME}\}}|[0-9@*#?$-])"
_PART = rf"""[{PLAIN_CHARACTERS}]|'[^']*+'|"(?:[^"\\`$!]|{_EXPANSION})*+"|{_EXPANSION}"""
_WORD = rf"(?:{_PART})++"
_WORD_START = rf"""[{PLAIN_CHARACTERS}'"$]"""
_BLANKS = r"[ \t]*+"
_REDIRECT = rf"[0-9]*+(?:(?:>>|[<>]){_BLANKS}{_WORD}|[<>]&(?:[0-9]++|-)(?!{_WORD_START}))"
_COMMAND = rf"{_WORD}(?:[ \t]++{_WORD}|{_BLANKS}{_REDIRECT})*+"
_PIPELINE = rf"{_COMMAND}(?:{_BLANKS}(?:\|\||&&|\|){_BLANKS}(?:\n[ \t]*+)*+{_COMMAND})*+"
_SEPARATOR = rf"{_BLANKS}(?:;|&(?!&)|\n)[ \t\n]*+"
_LIST = rf"[ \t\n]*+{_PIPELINE}(?:{_SEPARATOR}{_PIPELINE})*+{_BLANKS}[;&]?[ \t\n]*+"
_PLAIN = re.compile(_LIST).fullmatch
_WORDS = re.compile(_WORD).findall  # the command's words, in a command that fits the grammar above

def plainly_parses(command: str) -> bool:
    """True when ``command`` is in the plain subset above, so every POSIX ``sh -n`` accepts it."""
    if _PLAIN(command) is None:
        return False
    return RESERVED_WORDS.isdisjoint(_WORDS(command))  # a word `fi` anywhere is not worth proving harmless
