"""Secret masking: the one function every error message, log line and stored record passes through.

Two layers, applied in this order:
1. the literal values of every credential the build resolved (registered in a ``Secrets``), so a
   key is masked even where no pattern would recognise it (an echoed header, a URL, a stderr line);
2. patterns for things that look like credentials wherever they came from: ``Bearer <token>``,
   ``sk-…`` style keys, and the value after ``x-api-key`` / ``api_key`` / ``authorization``.

Invariant: ``mask`` never returns any registered value or any token matched by a pattern, and it
keeps the text around it readable (a masked key becomes ``***``). Registries are thread-safe and
only grow: a value once secret stays secret for the life of the process.

An *answer* (a model's text, which becomes a step's output, the cache and the console) goes
through ``mask_known`` instead: the registered *credentials* only. A server that echoes the key
back has it masked, but the patterns stay out of answers, where ``api_key = os.environ[...]`` or
``Bearer <token>`` are ordinary code and prose, and so do values registered only because they
came from the environment (``register(value, credential=False)``: a CLI's ``env`` entry or a
header whose name does not say it is a secret, ``looks_secret``), which may be a directory or an
organisation name an answer rightly mentions.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import Any

MASK = "***"
# Shorter literals would mask ordinary words; no real API key is this short.
MIN_SECRET_LENGTH = 6

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=\-]{8,}"), r"\1 " + MASK),  # 8+: not "bearer of"
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}"), "sk-" + MASK),
    (
        re.compile(
            r"""(?ix)
            (["']?(?:x-api-key|x-goog-api-key|api[_-]?key|authorization|access[_-]?token)["']?
            \s*[:=]\s*["']?)
            (?!\*\*\*)(?!bearer\s)[^\s"',;&}]+"""
        ),
        r"\1" + MASK,
    ),
)


_SECRET_NAME = re.compile(r"(?i)key|token|secret|passw|credential|auth|cookie|session")


def looks_secret(name: str) -> bool:
    """Whether a variable or header *name* says its value is a credential (``X_API_KEY``,
    ``Authorization``), as opposed to one that merely came from the environment."""
    return _SECRET_NAME.search(name) is not None


class Secrets:
    """The credential values a build resolved; thread-safe, append-only."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._values: tuple[str, ...] = ()
        self._credentials: tuple[str, ...] = ()
        for value in values:
            self.register(value)

    def register(self, value: str | None, *, credential: bool = True) -> None:
        """Remember ``value`` so every later ``mask`` hides it; a ``credential`` is hidden in
        answers too (``mask_known``)."""
        if not value or len(value) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            self._values = _with(self._values, value)
            if credential:
                self._credentials = _with(self._credentials, value)

    def values(self) -> tuple[str, ...]:
        return self._values

    def credentials(self) -> tuple[str, ...]:
        return self._credentials

    def mask(self, text: str) -> str:
        return mask(text, self)


def _with(values: tuple[str, ...], value: str) -> tuple[str, ...]:
    # Longest first, so a key that contains another key is masked whole.
    return values if value in values else tuple(sorted((*values, value), key=len, reverse=True))


# The process-wide registry: backends register here unless given their own.
SECRETS = Secrets()


def mask(text: str, secrets: Secrets | None = None) -> str:
    """``text`` with every registered secret and every credential-looking token replaced."""
    if not text:
        return text
    for registry in _registries(secrets):
        for value in registry.values():
            text = text.replace(value, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def mask_known(text: str, secrets: Secrets | None = None) -> str:
    """``text`` with every registered credential replaced, and nothing else touched (answers)."""
    for registry in _registries(secrets):
        for value in registry.credentials():
            if value in text:
                text = text.replace(value, MASK)
    return text


def mask_value(value: Any, secrets: Secrets | None = None) -> Any:
    """``mask`` applied to every string inside nested dicts, lists and tuples (for stored records)."""
    if isinstance(value, str):
        return mask(value, secrets)
    if isinstance(value, dict):
        return {key: mask_value(item, secrets) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(mask_value(item, secrets) for item in value)
    return value


def _registries(secrets: Secrets | None) -> tuple[Secrets, ...]:
    # The global registry always applies: a key registered by one backend must not leak
    # through a message built by another part of the program.
    if secrets is None or secrets is SECRETS:
        return (SECRETS,)
    return (secrets, SECRETS)
