"""The checked-in LALR tables (muxc/syntax/toml/_tables.py) are the ones Lark derives from the grammar."""

from __future__ import annotations

from muxc.base.resources import grammar_text
from muxc.syntax.toml._tables import TABLES
from tools.lalr_tables import build_tables, grammar_digest

STALE = "grammar/toml.lark changed: run `python -m tools.lalr_tables` to regenerate muxc/syntax/toml/_tables.py"


def test_the_tables_were_generated_from_this_grammar() -> None:
    assert TABLES["digest"] == grammar_digest(grammar_text("toml.lark")), STALE


def test_lark_still_derives_the_same_tables() -> None:
    # also shows the generation does not depend on string hashing: pytest runs under a random seed
    assert build_tables(grammar_text("toml.lark")) == TABLES, STALE
