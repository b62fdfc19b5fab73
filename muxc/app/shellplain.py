"""Commands every POSIX ``sh`` parses, recognised without starting one.

``sh -n`` costs a process (about half a millisecond) per command; a workflow of 10,000 ``cp a b``
steps would spend seconds proving what is plain to see. ``plainly_parses`` says yes only for a
small subset of the shell language whose every member parses in dash, bash (``sh`` mode or not)
and any POSIX sh:

- words made only of ``A-Z a-z 0-9 _ . / , : = + @ % -`` (no quotes, ``$``, backquotes, globs,
  brackets, braces, parentheses, backslashes, ``#``, ``!``, ``^``, ``~``, nothing outside ASCII),
  none of them a reserved word of any common sh (``if``, ``fi``, ``function``, ``time``, ...);
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

_WORD = r"[A-Za-z0-9_./,:=+@%-]"
_BLANKS = r"[ \t]*+"
_REDIRECT = rf"[0-9]*+(?:(?:>>|[<>]){_BLANKS}{_WORD}++|[<>]&(?:[0-9]++|-)(?!{_WORD}))"
_COMMAND = rf"{_WORD}++(?:[ \t]++{_WORD}++|{_BLANKS}{_REDIRECT})*+"
_PIPELINE = rf"{_COMMAND}(?:{_BLANKS}(?:\|\||&&|\|){_BLANKS}(?:\n[ \t]*+)*+{_COMMAND})*+"
_SEPARATOR = rf"{_BLANKS}(?:;|&(?!&)|\n)[ \t\n]*+"
_LIST = rf"[ \t\n]*+{_PIPELINE}(?:{_SEPARATOR}{_PIPELINE})*+{_BLANKS}[;&]?[ \t\n]*+"
_PLAIN = re.compile(_LIST).fullmatch
_WORDS = re.compile(rf"{_WORD}+").findall

# Reserved words of POSIX sh, bash, ksh and zsh: in command position they change the grammar (and a
# word `fi` anywhere is simply not worth proving harmless).
RESERVED = frozenset({
    "if", "then", "else", "elif", "fi", "do", "done", "case", "esac", "while", "until", "for", "in",
    "function", "select", "time", "coproc", "repeat", "foreach", "end", "always", "nocorrect", "noglob",
    "namespace",
})


def plainly_parses(command: str) -> bool:
    """True when ``command`` is in the plain subset above, so every POSIX ``sh -n`` accepts it."""
    if _PLAIN(command) is None:
        return False
    return RESERVED.isdisjoint(_WORDS(command))
