"""Remote cache entries as bytes and on a ``file://`` remote: whole or refused, written atomically.

The end-to-end tests (``test_remote_cache``) show what a user sees; these pin the format's
guarantees one by one, against real files.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from muxc.store.remote.entries import BadEntry, Entry, decode, encode, path_of
from muxc.store.remote.fsstore import RemoteCache
from muxc.store.results import StepRecord

KEY = "0123456789abcdef0123456789abcdef"


def entry(key: str = KEY, output: str = "the answer") -> Entry:
    return Entry(StepRecord(key=key, step="summary", output=output, backend="fake"), "w", "digest",
                 {"definition": {"kind": "query"}}, {"prompt": "Summarise"})


def test_an_entry_reads_back_as_written() -> None:
    assert decode(KEY, encode(entry())) == entry()


@pytest.mark.parametrize(("damage", "said"), [
    (lambda data: data[:-1], "truncated"),
    (lambda data: data + b"x", "truncated"),  # longer than its header says: not what was written either
    (lambda data: data.replace(b"the answer", b"the answeR"), "corrupt"),
    (lambda data: b"", "not a muxc cache entry"),
    (lambda data: b"<html>403 Forbidden</html>", "not a muxc cache entry"),
    (lambda data: data.replace(b"muxc-result 1 ", b"muxc-result 9 ", 1), "format 9"),
])
def test_a_damaged_entry_is_refused_saying_why(damage: object, said: str) -> None:
    with pytest.raises(BadEntry, match=said):
        decode(KEY, damage(encode(entry())))  # type: ignore[operator]


def test_an_entry_under_another_key_is_refused() -> None:
    other = "f" * 32
    with pytest.raises(BadEntry, match="another key"):
        decode(other, encode(entry()))


def test_a_key_cannot_name_a_path_outside_the_remote() -> None:
    with pytest.raises(BadEntry):
        path_of("../../etc/passwd")
    assert path_of(KEY) == f"v1/results/01/{KEY}"


def remote_at(path: Path, warnings: list[str]) -> RemoteCache:
    return RemoteCache(path.as_uri(), warnings.append)


def test_concurrent_writers_of_one_key_leave_one_whole_entry(tmp_path: Path) -> None:
    """Two machines building the same step write the same key: whoever renames last wins, and no
    reader ever sees a mixture (each write goes to its own temporary name first)."""
    warnings: list[str] = []
    remote = remote_at(tmp_path / "remote", warnings)
    seen: list[Entry | None] = []
    writers = [threading.Thread(target=remote.put, args=(entry(output=f"answer {i}" * 200),)) for i in range(16)]
    readers = [threading.Thread(target=lambda: seen.append(remote.get(KEY))) for _ in range(16)]
    for thread in writers + readers:
        thread.start()
    for thread in writers + readers:
        thread.join()
    final = remote.get(KEY)
    assert final is not None and final.record.output.startswith("answer ")
    assert all(found is None or found.record.output.startswith("answer ") for found in seen)
    assert warnings == []  # no reader met a half-written entry
    names = [path.name for path in (tmp_path / "remote").rglob("*") if path.is_file()]
    assert names == [KEY]  # no temporary file left behind


def test_a_writer_killed_mid_upload_leaves_nothing_that_is_served(tmp_path: Path) -> None:
    warnings: list[str] = []
    remote = remote_at(tmp_path / "remote", warnings)
    leftover = tmp_path / "remote" / "v1" / "results" / "01" / ".tmp-0badc0de"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(encode(entry())[:40])
    assert remote.get(KEY) is None and list(remote.keys()) == []
    remote.put(entry())
    assert list(remote.keys()) == [KEY]
