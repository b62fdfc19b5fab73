"""The shared cache on S3, through s3fs, against moto's S3 server on loopback (as s3fs's own
tests run it): two clones, the second builds with zero LLM calls; a damaged object is never
served; an endpoint nobody answers costs one warning and a local-only build.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.distributed.conftest import Clones, make_clones
from tests.distributed.test_remote_cache import WORKFLOW, build_in
from tests.support.llm_server import LLMServer

BUCKET = "muxc-cache"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, isolated_env: dict[str, str]) -> Iterator[str]:
    """A fresh bucket; the credentials and endpoint the way s3fs takes them (the environment)."""
    import boto3

    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_ENDPOINT_URL", s3_endpoint)):
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    client.create_bucket(Bucket=BUCKET)
    yield f"s3://{BUCKET}/team"
    listed = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    for item in listed:
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


@pytest.fixture
def clones(tmp_path: Path, s3: str, llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch) -> Clones:
    monkeypatch.setenv("COUNTER", str(tmp_path / "counter"))
    return make_clones(tmp_path, llm_server, WORKFLOW, config=f'[cache]\nremote = "{s3}"\n')


def objects() -> dict[str, bytes]:
    import boto3

    client = boto3.client("s3")
    listed = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {item["Key"]: client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read() for item in listed}


def test_a_second_clone_builds_from_s3_without_a_single_llm_call(clones: Clones,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    first = build_in(clones.a, monkeypatch)
    assert first.ran == {"facts", "summary", "title"} and clones.a.calls == 2
    stored = objects()
    assert len([key for key in stored if key.startswith("team/v1/results/")]) == 3
    assert len([key for key in stored if key.startswith("team/v1/index/")]) == 1  # the build's shared memo
    assert not any(b"testing" in data for data in stored.values())  # no credential went up

    second = build_in(clones.b, monkeypatch)
    assert second.cached == {"facts", "summary", "title"} and clones.b.calls == 2
    assert {step["where"] for step in second.doc["steps"]} == {"remote cache"}


def test_a_damaged_object_is_never_served(clones: Clones, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    build_in(clones.a, monkeypatch)
    key, data = next((key, data) for key, data in objects().items() if b'"step":"summary"' in data)
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=data[:-10])
    second = build_in(clones.b, monkeypatch)
    assert second.ran == {"summary"} and clones.b.calls == 3
    assert "truncated" in second.stderr


def test_an_endpoint_nobody_answers_costs_one_warning(clones: Clones, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    built = build_in(clones.a, monkeypatch)
    assert built.ran == {"facts", "summary", "title"}
    said = [line for line in built.stderr.splitlines() if "cannot be used" in line]
    assert len(said) == 1 and "local cache only" in said[0], built.stderr


def test_wrong_credentials_cost_one_warning_and_a_local_build(clones: Clones, monkeypatch: pytest.MonkeyPatch,
                                                              s3_endpoint: str) -> None:
    """moto checks credentials once told to (its /moto-api/reset-auth): "testing" is then no key."""
    import httpx

    httpx.post(f"{s3_endpoint}/moto-api/reset-auth", content=b"0").raise_for_status()
    try:
        built = build_in(clones.a, monkeypatch)
    finally:
        httpx.post(f"{s3_endpoint}/moto-api/reset-auth", content=b"inf").raise_for_status()
    assert built.ran == {"facts", "summary", "title"} and clones.a.calls == 2
    said = [line for line in built.stderr.splitlines() if "cannot be used" in line]
    assert len(said) == 1 and "local cache only" in said[0], built.stderr
    assert "testing" not in built.stderr, said  # the key is not repeated back
    assert objects() == {}
