"""Finding JSON in what LLMs actually write, and splitting for_each values into items."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from muxc.lang.llmjson import extract_json, parse_list_items, repair, why_no_json


def test_json_fence_surrounded_by_prose():
    text = 'Sure! Here it is:\n```json\n{"a": 1}\n```\nLet me know if you need more.'
    found = extract_json(text)
    assert found is not None
    assert found.value == {"a": 1}
    assert found.where == "json-fence"
    assert text[found.start : found.end].strip() == '{"a": 1}'
    assert found.describe(text) == "JSON at line 3, in the ```json block"


def test_raw_newline_and_tab_inside_a_string_are_repaired():
    text = '```json\n{"summary": "line one\nline two\tindented"}\n```'
    found = extract_json(text)
    assert found is not None
    assert found.value == {"summary": "line one\nline two\tindented"}
    assert found.repaired
    assert found.describe(text).endswith("(after repairing it)")


def test_trailing_commas_are_repaired():
    found = extract_json('{"items": [1, 2, 3,], "ok": true,}')
    assert found is not None
    assert found.value == {"items": [1, 2, 3], "ok": True}
    assert found.where == "whole"


def test_repair_leaves_commas_inside_strings_alone():
    assert repair('{"a": "x,}", "b": [1,]}') == '{"a": "x,}", "b": [1]}'


def test_parallel_backend_header_is_stripped():
    found = extract_json('=== claude ===\n{"verdict": "ok"}\n')
    assert found is not None
    assert found.value == {"verdict": "ok"}
    assert found.where == "whole"


def test_header_then_fence():
    found = extract_json("=== codex ===\nAnswer:\n```json\n[1, 2]\n```\n")
    assert found is not None
    assert found.value == [1, 2]
    assert found.where == "json-fence"


def test_only_the_second_of_several_fences_parses():
    text = 'Run this:\n```sh\necho {hello}\n```\nResult:\n```\n{"files": ["a.py"]}\n```\n'
    found = extract_json(text)
    assert found is not None
    assert found.value == {"files": ["a.py"]}
    assert found.where == "fence"
    assert found.describe(text) == "JSON at line 7, in a fenced block"


def test_broken_json_fence_falls_through_to_the_next_json_fence():
    text = '```json\n{"a": oops}\n```\n\n```json\n{"a": 2}\n```'
    found = extract_json(text)
    assert found is not None
    assert found.value == {"a": 2}


def test_json_fence_preferred_over_earlier_plain_fence():
    text = '```\n{"plain": true}\n```\n```json\n{"json": true}\n```'
    found = extract_json(text)
    assert found is not None
    assert found.value == {"json": True}


def test_embedded_object_with_braces_and_escaped_quotes_in_strings():
    text = 'The answer is {"msg": "a } brace and a \\" quote", "n": [1, {"m": 2}]} as requested.'
    found = extract_json(text)
    assert found is not None
    assert found.value == {"msg": 'a } brace and a " quote', "n": [1, {"m": 2}]}
    assert found.where == "embedded"


def test_unbalanced_bracket_in_prose_is_skipped():
    found = extract_json('Options [a or b: {"choice": "a"} and that is all')
    assert found is not None
    assert found.value == {"choice": "a"}


def test_fence_without_closing_marker_is_found_by_the_scan():
    found = extract_json('```json\n{"cut": "off"}\n')
    assert found is not None
    assert found.value == {"cut": "off"}


def test_no_json_gives_none():
    assert extract_json("I could not find anything, sorry.") is None
    assert extract_json("") is None
    assert extract_json("{not json} [either") is None


def test_pathological_input_does_not_raise():
    assert extract_json("{" * 5000) is None
    deep = '{"a": ' * 3000 + "1" + "}" * 3000
    assert extract_json(deep) is None  # too deep, and no fragment of it is taken for the answer
    assert why_no_json(deep) == "holds JSON nested more than 100 levels deep, deeper than muxc reads"


@pytest.mark.parametrize("depth", [101, 1_000, 100_000])
def test_json_nested_too_deep_is_not_used_and_says_so_quickly(depth):
    text = "The tree:\n```json\n" + "[" * depth + "]" * depth + "\n```\nand a note [1, 2]."
    started = time.monotonic()
    assert extract_json(text) is not None  # the shallow array after it is still found
    assert extract_json(text).value == [1, 2]
    assert extract_json("[" * depth + "]" * depth) is None
    assert why_no_json("[" * depth + "]" * depth).startswith("holds JSON nested more than 100 levels deep")
    assert time.monotonic() - started < 2.0  # linear, not one parse per inner bracket


def test_json_nested_to_the_limit_is_used():
    assert extract_json("[" * 100 + "]" * 100) is not None
    assert why_no_json("no braces here") == "holds no JSON"


def test_nan_is_not_json():
    assert extract_json("NaN") is None


@st.composite
def json_objects(draw):
    scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=10)
    values = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    )
    return draw(st.dictionaries(st.text(max_size=8), values, min_size=1, max_size=4))


# Prose that cannot itself look like JSON or a fence: no brackets, quotes or backticks.
prose = st.text(
    alphabet=st.characters(blacklist_characters='{}[]"`\\', blacklist_categories=("Cs",)), max_size=80
)


@given(before=prose, obj=json_objects(), after=prose, indent=st.sampled_from([None, 2]))
def test_any_object_embedded_in_prose_is_found(before, obj, after, indent):
    text = f"{before}{json.dumps(obj, indent=indent)}{after}"
    found = extract_json(text)
    assert found is not None
    assert found.value == obj


# --- for_each items -------------------------------------------------------------------------


def test_json_array_gives_its_elements():
    assert parse_list_items('["a, with comma", "b"]') == ["a, with comma", "b"]


def test_fenced_array_of_objects():
    assert parse_list_items('Files:\n```json\n[{"path": "a"}, {"path": "b"}]\n```') == [
        {"path": "a"},
        {"path": "b"},
    ]


def test_plain_lines_are_trimmed_and_never_split_on_commas():
    text = "  src/a.py, the parser \n\n\tsrc/b.py\n   \n"
    assert parse_list_items(text) == ["src/a.py, the parser", "src/b.py"]


def test_a_line_containing_brackets_stays_one_item():
    assert parse_list_items("see [1, 2]\nand more") == ["see [1, 2]", "and more"]


def test_json_object_is_one_item():
    assert parse_list_items('{"a": 1}') == [{"a": 1}]


def test_empty_text_gives_no_items():
    assert parse_list_items("") == []
    assert parse_list_items("[]") == []
