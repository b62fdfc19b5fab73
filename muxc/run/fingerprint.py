"""Fingerprints of files a step reads: the whole project, or the files its ``inputs`` globs match.

The project is what git would see — tracked files plus untracked ones that are not ignored —
when it is a git work tree; otherwise every file under the root except dot-directories and
common build directories. In git it also holds the checked-out commit and the index's content
(mode, blob, stage and path of each entry: what ``git diff --cached`` reads, not the stat data
``git status`` refreshes). Never part of it, in git or not: ``.muxc/``, ``.llm-mux/`` (config
and workflows, which reach keys through the plan), the files muxc saves and their ``.orig``
copies, the workflow file being built, and muxc's own temporary files.

File contents are hashed once and remembered by (size, mtime, ctime, inode) in
``.muxc/state/stat-cache``, so fingerprinting an unchanged tree is a walk plus ``stat`` calls. As
git does with racy entries, a file modified less than ``RACY_NS`` before it was hashed is hashed
again: it may have changed within the file system's timestamp resolution after being read.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from stat import S_ISREG

import msgspec

from muxc.base.files import is_temporary
from muxc.compile.keys import digest_value

SKIP_DIRS = frozenset({".git", ".muxc", ".llm-mux", "node_modules", "target", "__pycache__", ".venv", "venv",
                       "dist", "build"})
NEVER_PROJECT = (".muxc/", ".llm-mux/")  # muxc's and llm-mux's own directories, in git or not
RACY_NS = 2_000_000_000  # coarser than any file system's timestamps (FAT: 2 s)
_MAGIC = re.compile(r"[*?[]")  # what makes a pattern a glob (pathlib's own test)


class Tree(msgspec.Struct, frozen=True):
    digest: str
    files: dict[str, str]  # relative path -> content digest


class _Stat(msgspec.Struct, array_like=True):
    size: int
    mtime_ns: int
    ctime_ns: int  # cp -p, rsync -t, tar x and touch -r set mtime back, never ctime
    inode: int
    digest: str
    hashed_ns: int  # when the content was read


class Fingerprinter:
    """Hashes files under one root, remembering digests of files whose stat did not change."""

    def __init__(self, root: Path, cache_path: Path | None = None, exclude: Iterable[str] = (),
                 exclude_files: Iterable[str] = ()) -> None:
        """``exclude``: saved outputs, never project state, nor their ``.orig`` copies;
        ``exclude_files``: other files that are not (the workflow file being built)."""
        self.root = root
        self.cache_path = cache_path
        self.excluded_saves, self.excluded_files = tuple(exclude), tuple(exclude_files)
        self.exclude = {*self.excluded_saves, *self.excluded_files}
        self._orig_of = tuple(f"{name}.orig" for name in self.excluded_saves)
        self._cache: dict[str, _Stat] = _load(cache_path)
        self._lock = threading.Lock()
        self._project: Tree | None = None
        self._inputs: dict[tuple[str, ...], Tree] = {}  # per build: the same globs give the same tree
        self.rehashed = False  # a file was read again: the stat cache learned something worth saving

    def project(self) -> Tree:
        """The project's tree, computed once per build (with git's HEAD and index, when in git:
        a shell step such as `git diff HEAD` reads them too)."""
        with self._lock:
            if self._project is None:
                listed = _git_listing(self.root)
                tree = self._tree(self._project_files(listed))
                files = {**tree.files, **(_git_state(self.root, listed.index) if listed is not None else {})}
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

    def computed(self) -> list[tuple[tuple[str, ...] | None, str]]:
        """The trees this build fingerprinted: (globs, or None for the project; digest) each. The
        no-op fast path (``muxc.app.fastpath``) computes them again and compares."""
        with self._lock:
            found: list[tuple[tuple[str, ...] | None, str]] = [(None, self._project.digest)] if self._project else []
            return found + [(patterns, tree.digest) for patterns, tree in self._inputs.items()]

    def save(self) -> None:
        if self.cache_path is None:
            return
        from muxc.base.files import write_atomically

        with self._lock:
            write_atomically(self.cache_path, msgspec.msgpack.encode(self._cache))

    # -- listing ---------------------------------------------------------------------------

    def _project_files(self, listed: GitListing | None) -> list[str]:
        files = listed.files if listed is not None else _walk(self.root)
        return sorted(f for f in files if f not in self.exclude and not f.startswith(NEVER_PROJECT)
                      and not is_temporary(f) and not f.startswith(self._orig_of))

    def _glob(self, pattern: str) -> list[str]:
        root = self.root
        if pattern and not _MAGIC.search(pattern):  # one file named outright: a stat, not a directory scan
            if _plain(pattern):  # already the name pathlib would give it; _file_digest skips a non-file
                return [pattern]
            matches = [root / pattern if not os.path.isabs(pattern) else Path(pattern)]
        else:
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
        path = os.path.join(self.root, name)  # strings, not Paths: this runs once per file per build
        try:
            stat = os.stat(path)
        except OSError:
            return None  # listed by git but deleted: not part of the tree
        if not S_ISREG(stat.st_mode):
            return None  # a directory (or a fifo) named as an input: not a file the step reads
        cached = self._cache.get(name)
        if cached and _unchanged(cached, stat):
            return cached.digest
        hashed_ns = time.time_ns()
        self.rehashed = True
        try:
            with open(path, "rb") as handle:
                digest = hashlib.blake2b(handle.read(), digest_size=16).hexdigest()
        except OSError:
            return None
        self._cache[name] = _Stat(stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, digest, hashed_ns)
        return digest


def _plain(pattern: str) -> bool:
    """A relative path in the form pathlib gives it back (no `.`, `..`, `//` or trailing `/`)."""
    return not os.path.isabs(pattern) and posixpath.normpath(pattern) == pattern and \
        not pattern.startswith("..") and "/../" not in pattern


def _unchanged(cached: _Stat, stat: os.stat_result) -> bool:
    """The cached digest still holds: same stat, and the file was not racily new when read."""
    same = (cached.size, cached.mtime_ns, cached.ctime_ns, cached.inode) == \
        (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)
    return same and stat.st_mtime_ns < cached.hashed_ns - RACY_NS


class GitListing(msgspec.Struct, frozen=True):
    files: list[str]  # tracked and untracked-but-not-ignored
    index: str  # a digest of the index's entries (mode, blob, stage, path)


_STAGED = re.compile(r"(\d{6}) ([0-9a-f]{40,64}) (\d)\t(.*)", re.DOTALL)


def _git_listing(root: Path) -> GitListing | None:
    """What git sees, in one call; None outside a git work tree."""
    import subprocess  # here: a build whose steps name their inputs never asks git

    try:
        done = subprocess.run(["git", "ls-files", "-z", "--stage", "--others", "--exclude-standard"], cwd=root,
                              capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    files, entries = [], []
    for entry in done.stdout.decode("utf-8", "replace").split("\0"):
        staged = _STAGED.fullmatch(entry)
        if staged:
            entries.append(entry)
        if entry:
            files.append(staged[4] if staged else entry)
    return GitListing(sorted(set(files)), digest_value(sorted(entries)))


def _git_state(root: Path, index: str) -> dict[str, str]:
    """Pseudo-entries for the checked-out commit and the index."""
    import subprocess

    try:
        done = subprocess.run(["git", "rev-parse", "--verify", "-q", "HEAD"], cwd=root, capture_output=True,
                              timeout=30, check=False, text=True)
    except (OSError, subprocess.TimeoutExpired):
        done = None
    head = done.stdout.strip() if done is not None and done.returncode == 0 else "none"
    return {":git/HEAD": head, ":git/index": index}


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
