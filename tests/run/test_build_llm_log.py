"""A build records each LLM call in the log, with the cache key its result is stored under."""

from __future__ import annotations

import json
import re


def test_each_call_is_logged_with_its_step_and_cache_key(project) -> None:
    project.workflow("""
        workflow w "two questions"

        query first @analyzer: Name a prime.

        query second @synthesizer: Repeat: {{ first }}
        """)
    project.build()
    logged = json.loads(project.cli("logs", "--output", "json").stdout)
    assert sorted(entry["step"] for entry in logged) == ["first", "second"]
    assert all(re.fullmatch(r"[0-9a-f]{32}", entry["cache_key"]) for entry in logged)
    assert logged[0]["cache_key"] != logged[1]["cache_key"]
    assert {entry["workflow"] for entry in logged} == {"w"} and {entry["status"] for entry in logged} == {"ok"}
