"""The cache keys of a small workflow, pinned: what a key hashes changes only on purpose.

A change to how keys are computed re-asks every LLM call of every user (or, worse, lets two keys
collide). If this test fails, the change was either an accident — undo it — or deliberate: then
raise ``KEY_FORMAT`` in ``muxc/compile/keys.py`` (or make the old keys still valid, as
``keys.legacy_key`` does), say so in docs/caching.md, and update the values here.
"""

from __future__ import annotations

import sqlite3

from muxc.compile.keys import KEY_FORMAT

WORKFLOW = """\
workflow pinned "keys that must not change by accident"

arg topic = "caching" "what to write about"

shell words [inputs = []]:
    printf '%s\\n' alpha beta

shell each [for_each = "words | lines", inputs = []]:
    echo "{{ item }} on {{ topic }}"

query ask @analyzer:
    Write one line about {{ topic }}.
    {{ each }}
"""

CONFIG = """\
[backends.echo]
command = "cat"
stdin = true
reads_project = false

[roles.analyzer]
backends = ["echo"]
"""

PINNED = {
    "words": "7a9445cabc40acb54147f9096c552a94",
    "each[722d12affbc6]": "6d0516a0afe585042038d19a3d595d2d",
    "each[0533cd1138f3]": "4a365c2b0332b47102d328f11b5022bb",
    "each": "c552d10fb7c1d23614c1a1e9e881b0f8",
    "ask": "828344cd511d4d5b7c3430ab41ec02c3",
}


def test_the_keys_of_a_small_workflow_are_what_they_were(project):
    project.write(".muxc/config.toml", CONFIG)
    project.write("pinned.mux", WORKFLOW)
    built = project.build(workflow="pinned.mux")
    assert built.output == "Write one line about caching.\nalpha on caching\nbeta on caching"
    with sqlite3.connect(project.root / ".muxc/state/cache.db") as db:
        keys = dict(db.execute("select step, key from latest").fetchall())
    assert KEY_FORMAT == "muxc-key-1"
    assert keys == PINNED
