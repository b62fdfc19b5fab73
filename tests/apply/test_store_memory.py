"""Store steps and the memory database end to end: a query answers JSON, a store step writes it to
``memory/<ecosystem>.db`` under the XDG data dir, later steps and ``muxc memory`` read it back,
bad items are reported by index, and every build is recorded in ``workflow_runs``."""

from __future__ import annotations

import json
import sqlite3

from tests.apply.conftest import statuses
from tests.support.llm_server import Reply

LEARN = """
    workflow learn "learn and use facts"

    query learn @analyzer:
        What do you know about this project?

    store remember: {{ learn }}

    query use @analyzer [depends_on = ["remember"]]:
        In {{ ecosystem.name }}/{{ ecosystem.current_project.name }}:
        {% for f in memory.facts(project="api") %}- {{ f.fact }} ({{ f.category }})
        {% endfor %}Search: {% for hit in memory.search("tokio") %}{{ hit.text }}{% endfor %}
    """

ANSWER = {
    "facts": [
        {"project": "api", "fact": "uses tokio for async IO", "source": "Cargo.toml", "confidence": 0.9,
         "category": "stack"},
        {"project": "api", "source": "README.md", "confidence": 1.0},  # no "fact": reported, not stored
        {"project": "api", "fact": "tests run with cargo nextest", "source": "ci.yml", "confidence": 1,
         "category": "test"},
    ],
    "relationships": [{"from": "api", "to": "db", "type": "depends_on", "evidence": 'DATABASE_URL "pg"'}],
    "entities": [{"entity_type": "service", "entity_name": "api-server", "source": "Cargo.toml",
                  "properties": {"port": 8080, "lang": "rust"}}],
}


STORE = """
    workflow x "store"

    query learn @analyzer:
        Facts?

    store remember: {{ learn }}
    """


def ecosystem_config(proj) -> None:
    proj.config(f"""
        [ecosystems.shop]
        description = "the shop"

        [ecosystems.shop.projects.api]
        path = "{proj.root}"
        type = "rust"
        """)


def learned(proj) -> str:
    return "Here is what I found:\n\n```json\n" + json.dumps(ANSWER, indent=2) + "\n```\n\nHope that helps."


def test_an_answer_is_stored_read_back_by_a_later_step_and_muxc_memory_and_builds_are_recorded(proj):
    ecosystem_config(proj)
    proj.workflow(LEARN, name="learn")
    proj.commit()
    proj.server.script(Reply(text=learned(proj)), Reply(text="noted"))
    done = proj.build(workflow="learn")

    assert (proj.data_dir / "memory" / "shop.db").is_file()
    # the item without "fact" is a warning naming its index, visible in the build output
    assert "note: remember: facts[1]: missing 'fact'" in done.stderr

    use = proj.server.requests[1].prompt
    assert use.startswith("In shop/api:\n")
    assert "- api: uses tokio for async IO (stack)\n" in use
    assert "- api: tests run with cargo nextest (test)\n" in use
    assert "Search: api: uses tokio for async IO" in use

    facts = json.loads(proj.muxc("memory", "facts", "--output", "json").stdout)
    assert sorted(f["fact"] for f in facts) == ["api: tests run with cargo nextest", "api: uses tokio for async IO"]
    hits = json.loads(proj.muxc("memory", "search", "nextest", "--output", "json").stdout)
    assert [hit["text"] for hit in hits] == ["api: tests run with cargo nextest"]
    entities = json.loads(proj.muxc("memory", "entities", "--output", "json").stdout)
    assert [(e["entity_name"], e["properties"]) for e in entities] == [("api-server", {"lang": "rust", "port": "8080"})]
    export = json.loads(proj.muxc("memory", "export", "--output", "json").stdout)
    assert export["ecosystem"] == "shop"
    assert [json.loads(r["metadata"]) for r in export["project_relationships"]] == [{"evidence": 'DATABASE_URL "pg"'}]
    assert len(export["facts"]) == 2 and len(export["entities"]) == 1

    # every build is recorded in workflow_runs, failed ones with the step and its error
    proj.server.script(Reply(text="Nothing new."))
    proj.build("--refresh", "learn", workflow="learn", code=1)
    with sqlite3.connect(proj.data_dir / "memory" / "shop.db") as db:
        db.row_factory = sqlite3.Row
        runs = [dict(row) for row in db.execute("select * from workflow_runs order by id")]
    assert [(r["workflow_name"], r["ecosystem"], r["project"], r["success"]) for r in runs] == [
        ("learn", "shop", "api", 1), ("learn", "shop", "api", 0)]
    assert runs[0]["failed_step"] is None and runs[0]["error_message"] is None
    assert runs[1]["failed_step"] == "remember" and runs[1]["error_message"].startswith("no JSON to store")
    assert all(isinstance(r["duration_ms"], int) and r["duration_ms"] >= 0 for r in runs)


def test_a_store_step_without_an_ecosystem_uses_the_directory_name_and_reports_bad_items(proj):
    proj.workflow(STORE)
    proj.commit()
    proj.server.script(Reply(text=json.dumps({"facts": [{"project": "p", "fact": "f", "source": "s",
                                                         "confidence": 1}, {"fact": 3}]})))
    doc = proj.build_json()
    assert statuses(doc) == {"learn": "ran", "remember": "ran"}
    db = proj.data_dir / "memory" / f"{proj.root.name}.db"
    with sqlite3.connect(db) as conn:
        assert conn.execute("select fact from facts").fetchall() == [("p: f",)]
    assert "; 1 item skipped\nwarnings:\n  - facts[1]: " in doc["output"]


def test_a_store_step_with_no_json_fails_clearly(proj):
    ecosystem_config(proj)
    proj.workflow(STORE)
    proj.commit()
    proj.server.script(Reply(text="I could not find anything worth remembering."))
    done = proj.build(code=1)
    assert "step `remember` failed: no JSON to store" in done.stderr
    assert "I could not find anything" in done.stderr


READS_MEMORY = """
    workflow x "store, then read memory"

    query learn @analyzer:
        Facts?

    store remember: {{ learn }}

    query use @analyzer [depends_on = ["remember"]]:
        {% for f in memory.facts() %}- {{ f.fact }}
        {% endfor %}
    """


def one_fact(text: str) -> str:
    return json.dumps({"facts": [{"project": "api", "fact": text, "source": "s", "confidence": 1}]})


def test_a_step_reading_memory_sees_new_facts_even_when_the_store_summary_is_unchanged(proj):
    ecosystem_config(proj)
    proj.workflow(READS_MEMORY)
    proj.commit()
    proj.server.script(Reply(text=one_fact("A")), Reply(text="ok"))
    proj.build()
    proj.server.script(Reply(text=one_fact("B")), Reply(text="ok"))
    doc = proj.build_json("--refresh", "learn")  # "Stored 1 fact ..." again, but memory now holds A and B
    assert statuses(doc)["use"] == "ran"
    assert proj.prompts[-1] == "- api: B\n- api: A\n\n"
