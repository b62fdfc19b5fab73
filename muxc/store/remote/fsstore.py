"""Cache entries on any fsspec filesystem: ``file://`` (a shared directory), ``s3://``, ``gs://``, ...

Invariants:
- Atomic writes. On an object store one PUT is atomic: readers see the old object or the new one.
  Elsewhere the bytes go to a temporary name beside the entry, then are renamed over it. Two
  machines writing one key write the same result (a key fixes what built it), so the last rename
  or PUT wins harmlessly.
- Verified reads (``entries.decode``): a corrupt or truncated entry is reported once and ignored,
  never served; the step's fresh result then replaces it.
- Never a failed build because of the remote: the first error that is not "no such entry" (no
  network, wrong credentials, a missing bucket) is reported once, and from then on the remote is
  off for the rest of the command (local-only).
- Credentials come the way each fsspec backend takes them (environment, profiles, instance
  roles); a URL holding a password is refused before anything is sent (``url_problem``).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

from muxc.store.remote import entries
from muxc.store.remote.entries import BadEntry, Entry

# Stores where a single PUT replaces an object atomically: no temporary name, no rename.
ATOMIC_PUT = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "memory", "oss", "r2"})
# Bounded network waits for S3: an unreachable endpoint costs seconds, not botocore's minutes.
S3_OPTIONS = {"config_kwargs": {"connect_timeout": 5, "read_timeout": 30, "retries": {"max_attempts": 2}}}
INSTALL = "pip install 'muxc[distributed]'"

Warn = Callable[[str], None]


class RemoteError(Exception):
    """The remote cannot be used at all (a bad URL, fsspec or its backend missing)."""


def url_problem(url: str) -> str | None:
    """Why ``url`` must not be used as a remote, or None."""
    parts = urlsplit(url)
    if parts.password or parts.query:
        what = "a password" if parts.password else "a query string (where tokens and signatures go)"
        return (f"the remote URL {redact(url)} holds {what}: give credentials the way the storage takes them "
                "(environment variables, a profile), never in muxc's config or command line")
    return None


def redact(url: str) -> str:
    """The URL without what may be a secret: a password, a query string."""
    parts = urlsplit(url)
    if parts.password is not None:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@"))
    if parts.query:
        parts = parts._replace(query="***")
    return parts.geturl()


def open_filesystem(url: str) -> tuple[Any, str]:
    """(fsspec filesystem, root path) for ``url``; ``RemoteError`` when it cannot be opened."""
    problem = url_problem(url)
    if problem is not None:
        raise RemoteError(problem)
    try:
        import fsspec
        from fsspec.core import url_to_fs
    except ImportError:
        raise RemoteError(f"a remote cache needs fsspec: {INSTALL}") from None
    protocol = fsspec.utils.get_protocol(url)
    options = S3_OPTIONS if protocol in ("s3", "s3a") else {}
    try:
        fs, root = url_to_fs(url, skip_instance_cache=True, **options)  # credentials and endpoints as they are now
    except ImportError as error:
        raise RemoteError(f"the remote {url} needs a package fsspec names: {error} ({INSTALL} covers s3://)") from None
    except (ValueError, TypeError) as error:
        raise RemoteError(f"the remote URL {url} cannot be used: {error}") from None
    return fs, root.rstrip("/")


class RemoteCache:
    """Entries under one URL. Every method is safe from several threads and never raises for a
    remote that fails: it warns once (through ``warn``) and acts as an empty, read-only remote."""

    def __init__(self, url: str, warn: Warn, fs: Any = None, root: str | None = None) -> None:
        self.url = url
        self._warn = warn
        if fs is None:
            fs, root = open_filesystem(url)
        self._fs, self._root = fs, root or ""
        protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
        self._atomic_put = bool(ATOMIC_PUT.intersection(protocols))
        self._lock = threading.Lock()
        self._off: str | None = None  # why the remote is off for the rest of the command
        self._warned: set[str] = set()

    @property
    def available(self) -> bool:
        return self._off is None

    def _path(self, key: str) -> str:
        return f"{self._root}/{entries.path_of(key)}"

    def get(self, key: str) -> Entry | None:
        """The verified entry for ``key``, or None (absent, damaged or the remote unusable)."""
        data = self._read(self._path(key))
        if data is None:
            return None
        try:
            return entries.decode(key, data)
        except BadEntry as error:
            self._warn_once(key, f"the remote cache's entry for {key[:12]}… is ignored: {error}; the step is "
                                 "built again and its result replaces it")
            return None

    def put(self, entry: Entry) -> bool:
        """Upload one entry atomically; False when it was not uploaded."""
        return self._write(self._path(entry.record.key), entries.encode(entry))

    def get_index(self, invocation: str) -> dict[str, str]:
        """The shared memo of one invocation (pre-key -> key); empty when absent or damaged (a
        damaged index only costs rendering: each key it would give is found the slow way)."""
        data = self._read(f"{self._root}/{entries.index_path(invocation)}")
        if data is None:
            return {}
        try:
            return entries.decode_index(data)
        except BadEntry as error:
            self._warn_once(invocation, f"the remote cache's index {invocation[:12]}… is ignored: {error}")
            return {}

    def put_index(self, invocation: str, memo: dict[str, str]) -> bool:
        return self._write(f"{self._root}/{entries.index_path(invocation)}", entries.encode_index(memo))

    def _read(self, path: str) -> bytes | None:
        if self._off is not None:
            return None
        try:
            return self._fs.cat_file(path)
        except FileNotFoundError:
            return None
        except Exception as error:
            self._turn_off(error)
            return None

    def _write(self, path: str, data: bytes) -> bool:
        if self._off is not None:
            return False
        try:
            if self._atomic_put:
                self._fs.pipe_file(path, data)
            else:
                self._write_then_rename(path, data)
        except Exception as error:
            self._turn_off(error)
            return False
        return True

    def _write_then_rename(self, path: str, data: bytes) -> None:
        parent = path.rsplit("/", 1)[0]
        temporary = f"{parent}/.tmp-{uuid.uuid4().hex}"
        self._fs.makedirs(parent, exist_ok=True)
        try:
            self._fs.pipe_file(temporary, data)
            self._fs.mv(temporary, path)
        finally:
            if self._fs.exists(temporary):
                self._fs.rm_file(temporary)

    def keys(self) -> Iterator[str]:
        """Every key with an entry (unverified: ``get`` checks each one it reads)."""
        if self._off is not None:
            return
        try:
            found = self._fs.find(f"{self._root}/{entries.PREFIX}")
        except FileNotFoundError:
            return
        except Exception as error:
            self._turn_off(error)
            return
        for path in found:
            name = path.rsplit("/", 1)[-1]
            if not name.startswith("."):
                yield name

    def _turn_off(self, error: Exception) -> None:
        with self._lock:
            if self._off is not None:
                return
            self._off = describe(error)
            if isinstance(error, PermissionError):
                self._off += ": check the credentials the storage is given (environment, profile, role)"
        self._warn(f"the remote cache {redact(self.url)} cannot be used ({self._off}); this command goes on with "
                   "the local cache only")

    def _warn_once(self, key: str, message: str) -> None:
        with self._lock:
            if key in self._warned:
                return
            self._warned.add(key)
        self._warn(message)


def describe(error: Exception) -> str:
    """A short, secret-free account of a storage error."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    name = type(error).__name__
    return f"{name}: {text[:200]}" if text else name
