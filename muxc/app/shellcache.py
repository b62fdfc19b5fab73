"""The remembered verdicts of ``sh -n`` and shellcheck, so an unchanged command runs no process.

One JSON object in the user's cache directory (``shell-syntax.json``): a key per (tool, the
tool's version, its settings such as the ``.shellcheckrc`` in force, command text) to the list
of findings. The tool's version is the identity of
its binary (resolved path, size and modification time): an upgraded shellcheck, or ``sh``
pointing at another shell, is asked again, and telling it costs a ``stat``, not a process.

Invariants: the file holds at most ``LIMIT`` entries (about 40 bytes each when a command is
clean: a few MB at the cap), the ones used or added most recently kept; it is replaced
atomically (a temporary file renamed over it), so a reader never sees half of one; a file that
cannot be read is an empty cache. Values are decoded only when asked for, so loading a big
cache costs one pass of msgspec over the bytes.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Mapping

import msgspec

from muxc.app.shelltools import Finding
from muxc.base.userdirs import user_cache_dir

_ENTRIES = msgspec.json.Decoder(dict[str, msgspec.Raw])
_FINDINGS = msgspec.json.Decoder(list[Finding])


class ShellCache:
    """Findings per (tool, version, command text)."""

    LIMIT = 100_000  # entries: every command of a 10,000-step workflow many times over

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.path = user_cache_dir(environ) / "shell-syntax.json"
        self.entries: dict[str, msgspec.Raw | list[Finding]] = self._load()
        self.used: set[str] = set()
        self.changed = False
        self._versions: dict[str, str] = {}

    def _load(self) -> dict[str, msgspec.Raw | list[Finding]]:
        try:
            return dict(_ENTRIES.decode(self.path.read_bytes()))
        except (OSError, msgspec.DecodeError):
            return {}

    def get(self, tool: str, text: str, settings: str = "") -> list[Finding] | None:
        key = self.key(tool, text, settings)
        found = self.entries.get(key)
        if isinstance(found, msgspec.Raw):
            try:
                found = self.entries[key] = _FINDINGS.decode(found)
            except msgspec.DecodeError:
                return None  # a hand-edited or foreign entry: asked again
        if found is not None:
            self.used.add(key)
        return found

    def put(self, tool: str, text: str, findings: list[Finding], settings: str = "") -> None:
        key = self.key(tool, text, settings)
        self.entries.pop(key, None)  # re-inserted last: the newest
        self.entries[key] = findings
        self.used.add(key)
        self.changed = True

    def key(self, tool: str, text: str, settings: str = "") -> str:
        """The entry of ``text`` judged by ``tool`` as configured by ``settings`` (e.g. its rc file)."""
        if tool not in self._versions:
            self._versions[tool] = _version(tool)
        stamp = self._versions[tool] + (f"\0{settings}" if settings else "")
        return hashlib.blake2b(f"{tool}\0{stamp}\0{text}".encode("utf-8", "surrogateescape"),
                               digest_size=16).hexdigest()

    def save(self) -> None:
        """Write the cache if anything was added: unused entries first, so the cap drops the oldest."""
        if not self.changed:
            return
        order = [key for key in self.entries if key not in self.used] + [key for key in self.entries if key in self.used]
        kept = {key: self.entries[key] for key in order[-self.LIMIT:]}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=".shell-syntax.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(msgspec.json.encode(kept))
                os.replace(temp, self.path)
            except BaseException:
                os.unlink(temp)
                raise
        except OSError:
            pass  # a cache that cannot be written only costs time next run


def _version(tool: str) -> str:
    """The binary's identity: resolved path, size, modification time (the tool's name if not found)."""
    try:
        real = os.path.realpath(tool)
        stat = os.stat(real)
    except OSError:
        return tool
    return f"{real}\0{stat.st_size}\0{stat.st_mtime_ns}"
