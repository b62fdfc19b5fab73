"""What every POSIX ``sh`` takes as it is written: the plain characters and the reserved words.

Shared by the two places that skip a shell process for a plain command: ``muxc check``'s syntax
pass (``app.shellplain``: it parses, so no ``sh -n``) and the shell step runner
(``run.shellvalues``: one simple command of plain words, so no ``sh -c``).
"""

from __future__ import annotations

# No quoting, expansion, globbing, redirection, separator or comment can start with these (not
# `~`, `$`, `*`, `?`, `[`, `#`, `{`, quotes, `<>|&;()`, `!`, `^` (an old Bourne pipe), blanks).
PLAIN_CHARACTERS = r"A-Za-z0-9_./,:=+@%\-"  # a regexp character class's contents (its `-` escaped: any place)

# Reserved words of POSIX sh, bash, ksh and zsh: in command position they change the grammar.
RESERVED_WORDS = frozenset({
    "if", "then", "else", "elif", "fi", "do", "done", "case", "esac", "while", "until", "for", "in",
    "function", "select", "time", "coproc", "repeat", "foreach", "end", "always", "nocorrect", "noglob",
    "namespace",
})
