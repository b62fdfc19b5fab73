"""The memory database, on real SQLite files in temporary directories."""

from __future__ import annotations

import itertools
import json
import re
import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import pytest

from muxc.store.memory import KindCounts, MemoryDB

RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\Z")


def ticking_clock():
    """A clock that advances one second per reading, from 2026-01-01 00:00:00 UTC."""
    ticks = itertools.count()
    return lambda: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=next(ticks))


def stamp(second: int) -> str:
    return f"2026-01-01T00:00:{second:02d}.000000Z"


@pytest.fixture
def memory(tmp_path):
    with MemoryDB.open(tmp_path, "acme", now=ticking_clock()) as db:
        yield db


def fact(text="uses Redis for caching", confidence=0.8, **extra):
    return {"project": "api", "fact": text, "source": "README.md", "confidence": confidence, **extra}


# --- the file and its schema ------------------------------------------------------------------


def test_database_lives_under_memory_and_records_migrations(tmp_path):
    with MemoryDB.open(tmp_path, "acme") as memory:
        assert memory.path == tmp_path / "memory" / "acme.db"
    conn = sqlite3.connect(tmp_path / "memory" / "acme.db")
    names = [row[0] for row in conn.execute("select name from _muxc_migrations order by id")]
    assert names == ["0001_llm_mux_tables", "0002_full_text_search"]
    assert conn.execute("pragma journal_mode").fetchone()[0] == "wal"
    tables = {row[0] for row in conn.execute("select name from sqlite_master where type = 'table'")}
    llm_mux_tables = {
        "facts",
        "project_relationships",
        "entities",
        "entity_properties",
        "findings",
        "workflow_runs",
    }
    assert llm_mux_tables <= tables
    conn.close()


def test_reopening_applies_nothing_twice_and_keeps_data(tmp_path):
    with MemoryDB.open(tmp_path, "acme") as memory:
        memory.store({"facts": [fact()]}, project_default=None)
    with MemoryDB.open(tmp_path, "acme") as memory:
        assert [row["fact"] for row in memory.facts()] == ["api: uses Redis for caching"]
    conn = sqlite3.connect(tmp_path / "memory" / "acme.db")
    assert conn.execute("select count(*) from _muxc_migrations").fetchone()[0] == 2
    conn.close()


def test_facts_columns_match_llm_mux(memory):
    columns = [row["name"] for row in memory._rows("select name from pragma_table_info('facts')")]
    assert columns == [
        "id",
        "ecosystem",
        "fact",
        "source",
        "source_type",
        "category",
        "confidence",
        "created_at",
        "updated_at",
    ]


@pytest.mark.parametrize("name", ["../escape", "a/b", ".hidden", ""])
def test_ecosystem_name_must_be_a_plain_file_name(tmp_path, name):
    with pytest.raises(ValueError, match="cannot name a database file"):
        MemoryDB.open(tmp_path, name)


# --- facts ------------------------------------------------------------------------------------


def test_fact_upsert_updates_confidence_and_keeps_created_at(memory):
    first = memory.store({"facts": [fact(confidence=0.5, category="infra")]}, project_default=None)
    again = memory.store({"facts": [fact(confidence=0.5, category="infra")]}, project_default=None)
    changed = memory.store({"facts": [fact(confidence=0.9, category="infra")]}, project_default=None)
    assert (first.facts, again.facts, changed.facts) == (
        KindCounts(1),
        KindCounts(unchanged=1),
        KindCounts(updated=1),
    )
    [row] = memory.facts()
    assert row["fact"] == "api: uses Redis for caching"
    assert row["confidence"] == 0.9
    assert row["category"] == "infra"
    assert (row["created_at"], row["updated_at"]) == (stamp(0), stamp(2))


def test_fact_without_project_takes_the_default(memory):
    memory.store({"facts": [{"fact": "x", "source": "s", "confidence": "0.7"}]}, project_default="web")
    [row] = memory.facts(project="web")
    assert row["fact"] == "web: x"
    assert row["confidence"] == 0.7


def test_facts_filter_by_project_category_and_limit(memory):
    items = [fact("a", category="arch"), fact("b", category="ops"), {**fact("c"), "project": "web"}]
    memory.store({"facts": items}, project_default=None)
    assert [row["fact"] for row in memory.facts(project="api")] == ["api: b", "api: a"]
    assert [row["fact"] for row in memory.facts(category="ops")] == ["api: b"]
    assert len(memory.facts(limit=2)) == 2


# --- relationships ----------------------------------------------------------------------------


def test_relationship_evidence_with_quotes_and_newlines_is_real_json(memory):
    evidence = 'config says "url = db:5432"\nand\tthe {docs} agree \\ too'
    relationship = {"from": "api", "to": "db", "type": "depends_on", "evidence": evidence}
    report = memory.store({"relationships": [relationship]}, project_default=None)
    assert report.relationships == KindCounts(inserted=1)
    [row] = memory.relationships(project="db")
    assert row["metadata"] == {"evidence": evidence}
    [raw] = memory._rows("select metadata from project_relationships")
    assert json.loads(raw["metadata"]) == {"evidence": evidence}


def test_relationship_alias_keys_are_accepted(memory):
    aliased = {"from_entity": "web", "to_entity": "api", "relationship_type": "calls"}
    report = memory.store({"relationships": [aliased]}, project_default=None)
    assert report.relationships == KindCounts(inserted=1)
    assert report.warnings == []
    [row] = memory.relationships()
    assert (row["from_project"], row["to_project"], row["relationship_type"]) == ("web", "api", "calls")
    assert row["metadata"] is None


def test_relationship_is_unique_and_takes_newer_evidence(memory):
    base = {"from": "api", "to": "db", "type": "depends_on"}
    memory.store({"relationships": [{**base, "evidence": "old"}]}, project_default=None)
    same = memory.store({"relationships": [{**base, "evidence": "old"}, base]}, project_default=None)
    newer = memory.store({"relationships": [{**base, "evidence": "new"}]}, project_default=None)
    assert same.relationships == KindCounts(unchanged=2)
    assert newer.relationships == KindCounts(updated=1)
    [row] = memory.relationships()
    assert row["metadata"] == {"evidence": "new"}


# --- entities ---------------------------------------------------------------------------------


def entity(**properties):
    return {"entity_type": "service", "entity_name": "api", "source": "compose.yml", "properties": properties}


def test_entity_property_history_closes_and_opens_rows(memory):
    first = memory.store({"entities": [entity(port=8080, lang="python")]}, project_default="api")
    same = memory.store({"entities": [entity(port=8080, lang="python")]}, project_default="api")
    moved = memory.store({"entities": [entity(port=9090, lang="python")]}, project_default="api")
    assert (first.entities, same.entities, moved.entities) == (
        KindCounts(inserted=1),
        KindCounts(unchanged=1),
        KindCounts(updated=1),
    )
    assert (first.properties_added, moved.properties_changed) == (2, 1)
    assert "1 entity (1 property changed)" in moved.summary()
    [current] = memory.entities(entity_type="service", project="api")
    assert current["properties"] == {"lang": "python", "port": "9090"}
    ports = [row for row in memory.entity_history(current["id"]) if row["property_name"] == "port"]
    assert [(row["property_value"], row["valid_from"], row["valid_to"]) for row in ports] == [
        ("8080", stamp(0), stamp(2)),
        ("9090", stamp(2), None),
    ]


def test_entity_changed_twice_in_one_store_keeps_the_last_value(memory):
    report = memory.store({"entities": [entity(port=1), entity(port=2)]}, project_default="api")
    [current] = memory.entities()
    assert current["properties"] == {"port": "2"}
    assert len(memory.entity_history(current["id"])) == 1
    assert report.warnings == []


def test_entity_defaults_and_aliases(memory):
    memory.store(
        {"entities": [{"type": "table", "name": "users", "source": "schema.sql"}]}, project_default=None
    )
    [row] = memory.entities()
    assert (row["project"], row["entity_type"], row["entity_name"]) == ("default", "table", "users")
    assert row["properties"] == {}


def test_property_values_are_stringified_like_llm_mux(memory):
    memory.store(
        {"entities": [entity(flag=True, ratio=0.5, tags=["a", "b"], note="plain")]}, project_default="x"
    )
    [row] = memory.entities()
    assert row["properties"] == {"flag": "true", "note": "plain", "ratio": "0.5", "tags": '["a", "b"]'}


# --- findings and runs ------------------------------------------------------------------------


def test_findings_are_written_deduplicated_and_linked_to_a_run(memory):
    run = memory.record_run("audit", "api", False, 1200, "scan", "boom", "/tmp/out")
    finding = {"category": "security", "description": "hard-coded password", "location": "app.py:3"}
    first = memory.store({"findings": [{**finding, "severity": "high"}]}, project_default="api", run_id=run)
    fixed = memory.store(
        {"findings": [{**finding, "severity": "high", "status": "fixed"}]}, project_default="api"
    )
    assert (first.findings, fixed.findings) == (KindCounts(inserted=1), KindCounts(updated=1))
    [row] = memory.findings()
    assert (row["project"], row["status"], row["severity"], row["workflow_run_id"]) == (
        "api",
        "fixed",
        "high",
        run,
    )
    assert memory.findings(status="open") == []


def test_unknown_run_id_is_a_warning_not_a_failure(memory):
    report = memory.store(
        {"findings": [{"category": "c", "description": "d"}]}, project_default=None, run_id=99
    )
    assert report.ok
    assert report.warnings == ["workflow run 99 does not exist; findings are stored without it"]
    assert memory.findings()[0]["workflow_run_id"] is None


def test_record_run_rows_newest_first(memory):
    first = memory.record_run("build", "api", True, 10, None, None, "/out/1")
    second = memory.record_run("build", None, False, 20, "deploy", "exit 1", None)
    runs = memory.runs(limit=10)
    assert [run["id"] for run in runs] == [second, first]
    assert runs[0] | {} == {
        "id": second,
        "ecosystem": "acme",
        "project": None,
        "workflow_name": "build",
        "success": False,
        "duration_ms": 20,
        "failed_step": "deploy",
        "error_message": "exit 1",
        "output_dir": None,
        "created_at": stamp(1),
    }
    assert len(memory.runs(limit=1)) == 1


# --- nothing is dropped silently ----------------------------------------------------------------


def test_every_bad_item_gets_a_warning_with_its_index(memory):
    data = {
        "facts": [fact(), {"fact": "no source"}, fact(confidence="high"), "just text"],
        "relationships": [{"from": "a", "to": "b"}],
        "entities": [{"entity_name": "x"}, {**entity(), "properties": ["not", "a", "map"]}],
        "findings": [{"severity": "low"}],
    }
    report = memory.store(data, project_default=None)
    assert report.warnings == [
        "facts[1]: missing 'project', 'source', 'confidence'",
        "facts[2]: 'confidence' must be a number, got string \"high\"",
        "facts[3]: expected an object, got string",
        "relationships[0]: missing 'type'",
        "entities[0]: missing 'entity_type', 'source'",
        "entities[1]: 'properties' must be an object, got array",
        "findings[0]: missing 'category', 'description'",
    ]
    assert report.skipped == 7
    assert report.summary() == (
        f"Stored 1 fact, 0 relationships, 0 entities, 0 findings in {memory.path}; 7 items skipped"
    )


def test_unknown_keys_and_non_arrays_are_warnings(memory):
    report = memory.store({"facts": {"not": "a list"}, "summary": "..."}, project_default=None)
    assert report.warnings == [
        "summary: unknown key ignored (expected facts, relationships, entities, findings)",
        "facts: expected an array, got object; ignored",
    ]
    assert report.summary().endswith("; 2 warnings")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ("text", "expected a JSON object with facts, relationships, entities, findings arrays, got string"),
        (
            {"summary": "x", "notes": []},
            "the JSON object has none of the arrays facts, relationships, entities, findings "
            "(keys found: notes, summary)",
        ),
        (
            [1, 2],
            "expected a JSON object with facts, relationships, entities, findings arrays, got a list without any",
        ),
    ],
)
def test_a_top_level_value_without_arrays_is_an_error(memory, data, error):
    report = memory.store(data, project_default=None)
    assert report.error == error
    assert not report.ok
    assert report.summary() == f"Nothing stored in {memory.path}: {error}"
    assert memory.export()["facts"] == []


def test_a_list_of_store_objects_is_stored_with_prefixed_labels(memory):
    report = memory.store([{"facts": [fact("a")]}, "noise", {"facts": [{"fact": "b"}]}], project_default=None)
    assert report.facts == KindCounts(inserted=1)
    assert report.warnings == [
        "[1]: not an object with facts, relationships, entities, findings arrays; skipped",
        "[2].facts[0]: missing 'project', 'source', 'confidence'",
    ]


def test_summary_wording(memory):
    data = {
        "facts": [fact("a"), fact("b"), fact("c")],
        "relationships": [{"from": "a", "to": "b", "type": "t"}],
        "entities": [entity(port=1), {**entity(), "entity_name": "db"}],
    }
    memory.store({"entities": [entity(port=0)]}, project_default="api")
    report = memory.store({**data, "facts": [*data["facts"], {"fact": "x"}]}, project_default="api")
    assert report.summary() == (
        f"Stored 3 facts, 1 relationship, 2 entities (1 property changed), 0 findings in {memory.path}; "
        "1 item skipped"
    )


# --- search and export --------------------------------------------------------------------------


def test_full_text_search_finds_facts_and_findings_by_a_word(memory):
    memory.store(
        {
            "facts": [fact("uses Redis for caching"), fact("deploys with Helm")],
            "findings": [{"category": "perf", "description": "cache misses on every request"}],
        },
        project_default="api",
    )
    hits = memory.search("redis")
    assert [(hit["kind"], hit["text"]) for hit in hits] == [("fact", "api: uses Redis for caching")]
    assert {hit["kind"] for hit in memory.search("cache")} == {"fact", "finding"}  # porter stemming
    assert memory.search("kubernetes") == []
    assert memory.search("   ") == []
    assert [hit["text"] for hit in memory.search("Helm deploys")] == ["api: deploys with Helm"]  # every word
    assert memory.search('helm" OR (') == []  # FTS syntax is quoted: no error, and "or" is not in the fact
    assert memory.search("NOT helm* a:b") == []


def test_search_is_ranked_and_limited(memory):
    memory.store(
        {
            "facts": [
                fact("redis redis redis cluster"),
                fact("one redis mention in a much longer sentence here"),
            ]
        },
        project_default=None,
    )
    hits = memory.search("redis")
    assert hits[0]["fact"] == "api: redis redis redis cluster"
    assert hits[0]["rank"] <= hits[1]["rank"]
    assert len(memory.search("redis", limit=1)) == 1


def test_export_is_json_serialisable_and_complete(memory):
    memory.store(
        {
            "facts": [fact()],
            "relationships": [{"from": "a", "to": "b", "type": "t", "evidence": ["x", 1]}],
            "entities": [entity(port=1)],
            "findings": [{"category": "c", "description": "d"}],
        },
        project_default="api",
    )
    memory.record_run("wf", "api", True, 5, None, None, None)
    exported = json.loads(json.dumps(memory.export()))
    assert exported["ecosystem"] == "acme"
    counts = {table: len(rows) for table, rows in exported.items() if table != "ecosystem"}
    assert counts == {
        "facts": 1,
        "project_relationships": 1,
        "entities": 1,
        "entity_properties": 1,
        "findings": 1,
        "workflow_runs": 1,
    }
    assert all(RFC3339_UTC.match(row["created_at"]) for row in exported["facts"] + exported["workflow_runs"])


def test_default_clock_writes_rfc3339_utc(tmp_path):
    with MemoryDB.open(tmp_path, "acme") as memory:
        memory.store({"facts": [fact()]}, project_default=None)
        [row] = memory.facts()
    assert RFC3339_UTC.match(row["created_at"])


# --- concurrency ----------------------------------------------------------------------------------


def run_threads(target, count=2):
    errors: list[BaseException] = []

    def guarded(index):
        try:
            target(index)
        except BaseException as error:  # surface thread failures in the test
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_two_writers_on_separate_connections_do_not_corrupt_the_file(tmp_path):
    def writer(index):
        with MemoryDB.open(tmp_path, "acme") as memory:
            for n in range(40):
                report = memory.store({"facts": [fact(f"thread {index} fact {n}")]}, project_default=None)
                assert report.ok, report.error
                memory.record_run("wf", None, True, n, None, None, None)

    run_threads(writer)
    with MemoryDB.open(tmp_path, "acme") as memory:
        assert len(memory.facts()) == 80
        assert len(memory.runs(limit=None)) == 80
        assert memory._rows("pragma integrity_check") == [{"integrity_check": "ok"}]


def test_one_instance_shared_by_two_threads(memory):
    def writer(index):
        for n in range(40):
            assert memory.store({"facts": [fact(f"shared {index} {n}")]}, project_default=None).ok
            memory.search("shared")

    run_threads(writer)
    assert len(memory.facts()) == 80


@pytest.mark.parametrize("confidence", ["nan", "inf", True, [0.5]])
def test_confidence_must_be_a_finite_number(memory, confidence):
    report = memory.store({"facts": [fact(confidence=confidence)]}, project_default=None)
    assert report.skipped == 1
    assert report.warnings[0].startswith("facts[0]: 'confidence' must be a number, got ")
