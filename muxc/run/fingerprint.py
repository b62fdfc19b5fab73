"""Fingerprints of files a step reads: the whole project, or the files its ``inputs`` globs match.

The project is what git would see — tracked files plus untracked ones that are not ignored —
when it is a git work tree; otherwise every file under the root except dot-directories and
common build directories. ``.muxc/`` and the build's own saved outputs never count (a report a
build writes must not make the next build rerun). File contents are hashed once and remembered
by (size, mtime, inode) in ``.muxc/state/stat-cache``, so fingerprinting an unchanged tree is a
walk plus ``stat`` calls.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
from collections.abc import Iterable
from pathlib import Path

import msgspec

from muxc.compile.keys import digest_value

SKIP_DIRS = frozenset({".git", ".muxc", ".llm-mux", "node_modules", "target", "__pycache__", ".venv", "venv",
                       "dist", "build"})


class Tree(msgspec.Struct, frozen=True):
    digest: str
    files: dict[str, str]  # relative path -> content digest


class _Stat(msgspec.Struct, array_like=True):
    size: int
    mtime_ns: int
    inode: int
    digest: str


class Fingerprinter:
    """Hashes files under one root, remembering digests of files whose stat did not change."""

    def __init__(self, root: Path, cache_path: Path | None = None, exclude: Iterable[str] = ()) -> None:
        self.root = root
        self.cache_path = cache_path
        self.exclude = set(exclude)
        self._cache: dict[str, _Stat] = _load(cache_path)
        self._lock = threading.Lock()
        self._project: Tree | None = None
        self._inputs: dict[tuple[str, ...], Tree] = {}  # per build: the same globs give the same tree

    def project(self) -> Tree:
        """The project's tree, computed once per build (with git's HEAD and index, when in git:
        a shell step such as `git diff HEAD` reads them too)."""
        with self._lock:
            if self._project is None:
                tree = self._tree(self._project_files())
                files = {**tree.files, **_git_state(self.root)}
                self._project = Tree(digest_value(files), files)
            return self._project

    def inputs(self, patterns: Iterable[str]) -> Tree:
        """The tree of the files the globs match (computed once per build for each set of globs)."""
        wanted = tuple(patterns)
        with self._lock:
            known = self._inputs.get(wanted)
        if known is not None:
            return known
        files: set[str] = set()
        for pattern in wanted:
            files.update(self._glob(pattern))
        with self._lock:
            tree = self._inputs[wanted] = self._tree(sorted(files))
            return tree

    def save(self) -> None:
        if self.cache_path is None:
            return
        from muxc.run.files import write_atomically

        with self._lock:
            write_atomically(self.cache_path, msgspec.msgpack.encode(self._cache))

    # -- listing ---------------------------------------------------------------------------

    def _project_files(self) -> list[str]:
        listed = _git_files(self.root)
        files = listed if listed is not None else _walk(self.root)
        return sorted(f for f in files if f not in self.exclude and not f.startswith(".muxc/"))

    def _glob(self, pattern: str) -> list[str]:
        root = self.root
        matches = root.glob(pattern) if not os.path.isabs(pattern) else Path("/").glob(pattern.lstrip("/"))
        out = []
        for path in matches:
            if path.is_file():
                try:
                    out.append(str(path.relative_to(root)))
                except ValueError:
                    out.append(str(path))
        return out

    # -- hashing ---------------------------------------------------------------------------

    def _tree(self, files: list[str]) -> Tree:
        digests = {}
        for name in files:
            digest = self._file_digest(name)
            if digest is not None:
                digests[name] = digest
        return Tree(digest_value(digests), digests)

    def _file_digest(self, name: str) -> str | None:
        path = self.root / name
        try:
            stat = path.stat()
        except OSError:
            return None  # listed by git but deleted: not part of the tree
        cached = self._cache.get(name)
        if cached and (cached.size, cached.mtime_ns, cached.inode) == (stat.st_size, stat.st_mtime_ns, stat.st_ino):
            return cached.digest
        try:
            digest = hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()
        except OSError:
            return None
        self._cache[name] = _Stat(stat.st_size, stat.st_mtime_ns, stat.st_ino, digest)
        return digest


def _git_files(root: Path) -> list[str] | None:
    try:
        done = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                              capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return [name for name in done.stdout.decode("utf-8", "replace").split("\0") if name]


def _git_state(root: Path) -> dict[str, str]:
    """Pseudo-entries for the checked-out commit and the index (empty outside git)."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD", "--git-path", "index"], cwd=root, capture_output=True,
                              timeout=30, check=False, text=True)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    lines = done.stdout.split()
    if done.returncode != 0 or len(lines) < 2:
        return {}
    try:
        index = hashlib.blake2b((root / lines[1]).read_bytes(), digest_size=16).hexdigest()
    except OSError:
        index = "none"
    return {":git/HEAD": lines[0], ":git/index": index}


def _walk(root: Path) -> list[str]:
    found = []
    for directory, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")]
        base = Path(directory).relative_to(root)
        found += [str(base / name) if str(base) != "." else name for name in names]
    return found


def _load(path: Path | None) -> dict[str, _Stat]:
    if path is None or not path.exists():
        return {}
    try:
        return msgspec.msgpack.decode(path.read_bytes(), type=dict[str, _Stat])
    except (msgspec.DecodeError, OSError):
        return {}  # a damaged cache only costs re-hashing


def diff_trees(old: dict[str, str], new: dict[str, str]) -> tuple[list[str], list[str], list[str]]:
    """(added, removed, changed) paths between two file listings."""
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed = sorted(name for name in set(old) & set(new) if old[name] != new[name])
    return added, removed, changed
