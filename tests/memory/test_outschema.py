"""output_schema: validation messages, schema checks, the deterministic prompt, the re-ask."""

from __future__ import annotations

import itertools
import random

from muxc.lang.outschema import (
    SchemaViolation,
    field_types,
    prompt_suffix,
    retry_prompt,
    schema_errors,
    validate,
)

FACTS_SCHEMA = {
    "type": "object",
    "required": ["facts", "summary"],
    "properties": {
        "summary": {"type": "string", "description": "one sentence"},
        "facts": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["fact", "confidence"],
                "properties": {
                    "fact": {"type": "string"},
                    "confidence": {"type": "number"},
                    "level": {"type": "string", "enum": ["low", "high"]},
                    "count": {"type": "integer"},
                },
                "additionalProperties": False,
            },
        },
        "meta": {
            "type": "object",
            "properties": {"author": {"type": "object", "properties": {"name": {"type": "string"}}}},
        },
    },
}


def texts(value, schema=FACTS_SCHEMA):
    return [violation.text() for violation in validate(value, schema)]


def test_conforming_value_has_no_violations():
    value = {"summary": "ok", "facts": [{"fact": "a", "confidence": 1, "count": 2.0}], "meta": {}}
    assert validate(value, FACTS_SCHEMA) == []


def test_violations_have_json_paths_and_readable_messages():
    value = {
        "facts": [
            {"fact": "a", "confidence": 0.5},
            {"fact": "b", "confidence": 0.5},
            {"fact": "c", "confidence": "high", "level": "mid", "count": 1.5, "extra": 1},
            {},
        ],
        "meta": {"author": {"name": 7}},
    }
    assert texts(value) == [
        '$: missing required property "summary"',
        '$.facts[2].confidence: expected number, got string "high"',
        '$.facts[2].level: expected one of "low", "high", got "mid"',
        "$.facts[2].count: expected integer, got number 1.5",
        '$.facts[2]: unexpected property "extra" (additionalProperties is false)',
        '$.facts[3]: missing required property "fact"',
        '$.facts[3]: missing required property "confidence"',
        "$.meta.author.name: expected string, got number 7",
    ]


def test_violation_struct_fields():
    assert validate({"summary": 1, "facts": []}, FACTS_SCHEMA) == [
        SchemaViolation("$.summary", "expected string, got number 1")
    ]


def test_wrong_top_level_type_stops_there():
    assert texts(["not", "an", "object"]) == ["$: expected object, got array"]
    assert texts(None) == ["$: expected object, got null"]


def test_integer_number_and_boolean_are_distinct():
    integer, number = {"type": "integer"}, {"type": "number"}
    assert validate(3, integer) == [] and validate(3.0, integer) == []
    assert texts(True, integer) == ["$: expected integer, got boolean true"]
    assert validate(3, number) == [] and validate(2.5, number) == []
    assert texts(False, number) == ["$: expected number, got boolean false"]
    assert texts("3", number) == ['$: expected number, got string "3"']


def test_enum_compares_as_json():
    schema = {"enum": [1, "one"]}
    assert validate(1, schema) == [] and validate(1.0, schema) == []
    assert texts(True, schema) == ['$: expected one of 1, "one", got true']


def test_unusual_property_names_are_quoted_in_paths():
    schema = {"type": "object", "properties": {"file name": {"type": "string"}}}
    assert texts({"file name": 1}, schema) == ['$["file name"]: expected string, got number 1']


def test_long_values_are_shortened_in_messages():
    [message] = texts("x" * 200, {"type": "number"})
    assert message.endswith("…") and len(message) < 120


# --- schema_errors ----------------------------------------------------------------------------


def test_well_formed_schema_has_no_errors():
    assert schema_errors(FACTS_SCHEMA) == []


def test_schema_errors_name_the_problem_and_place():
    schema = {
        "type": "object",
        "required": ["a", "missing"],
        "minimum": 3,
        "properties": {
            "a": {"type": "float"},
            "b": {"description": "no type"},
            "c": {"type": "string", "enum": "low", "items": {"type": "string"}},
            "d": {"type": "array", "items": {"type": "object", "properties": {"e": {"type": "int"}}}},
            "f": {"type": "integer", "enum": [1, "two"]},
            "g": {"type": "object", "additionalProperties": "no"},
        },
    }
    assert schema_errors(schema) == [
        '$: unsupported keyword "minimum" (supported: type, description, enum, required, properties, '
        "items, additionalProperties)",
        '$.a: unknown type "float" (expected one of object, array, string, number, integer, boolean)',
        "$.b: missing 'type' (one of object, array, string, number, integer, boolean)",
        "$.c: 'items' only applies to type array, but the type is string",
        "$.c: 'enum' must be a non-empty list",
        '$.d[].e: unknown type "int" (expected one of object, array, string, number, integer, boolean)',
        '$.f: enum value "two" is not of type integer',
        "$.g: 'additionalProperties' must be true or false",
        "$: 'required' names \"missing\", which is not in 'properties'",
    ]


def test_schema_must_be_a_table():
    assert schema_errors(["type", "object"]) == ["$: a schema must be a table, got array"]
    assert schema_errors({"type": "object", "properties": []}) == [
        "$: 'properties' must be a table of property schemas"
    ]
    assert schema_errors({"type": "object", "required": "a"}) == [
        "$: 'required' must be a list of property names"
    ]


# --- prompts ----------------------------------------------------------------------------------


def test_prompt_suffix_matches_llm_mux_wording_without_nulls():
    suffix = prompt_suffix({"type": "object", "required": ["b"], "properties": {"b": {"type": "string"}}})
    assert suffix == (
        "\n\nIMPORTANT: You MUST respond with valid JSON matching this schema:\n"
        "```json\n"
        "{\n"
        '  "type": "object",\n'
        '  "required": [\n'
        '    "b"\n'
        "  ],\n"
        '  "properties": {\n'
        '    "b": {\n'
        '      "type": "string"\n'
        "    }\n"
        "  }\n"
        "}\n"
        "```\n\n"
        "Do not include any text before or after the JSON object."
    )
    assert "null" not in prompt_suffix(FACTS_SCHEMA)


def test_prompt_suffix_names_arrays():
    assert prompt_suffix({"type": "array", "items": {"type": "string"}}).endswith("after the JSON array.")


def shuffled(value, rng):
    """The same schema with every dict's keys in a random order."""
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {key: shuffled(value[key], rng) for key in keys}
    if isinstance(value, list):
        return [shuffled(item, rng) for item in value]
    return value


def test_prompt_suffix_is_identical_for_every_dict_order():
    expected = prompt_suffix(FACTS_SCHEMA)
    rng = random.Random(7)
    for _ in range(50):
        assert prompt_suffix(shuffled(FACTS_SCHEMA, rng)) == expected


def test_prompt_suffix_ignores_required_order():
    base = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}}
    suffixes = {prompt_suffix({**base, "required": list(order)}) for order in itertools.permutations("ab")}
    assert len(suffixes) == 1


def test_retry_prompt_carries_prompt_answer_and_violations():
    violations = validate({"facts": []}, FACTS_SCHEMA)
    prompt = retry_prompt("List facts." + prompt_suffix(FACTS_SCHEMA), '{"facts": []}', violations)
    assert prompt.startswith("List facts.\n\nIMPORTANT: You MUST respond")
    assert '<previous-answer>\n{"facts": []}\n</previous-answer>' in prompt
    assert 'It did not match the required JSON schema:\n- $: missing required property "summary"' in prompt
    assert prompt.endswith("Respond again with only the corrected JSON, matching the schema above.")


def test_retry_prompt_without_violations_says_no_json_was_found():
    prompt = retry_prompt("Q", "I think the answer is yes.", [])
    assert "It did not contain any valid JSON." in prompt


def test_retry_prompt_clips_a_huge_answer():
    prompt = retry_prompt("Q", "y" * 20000, [])
    assert "[… 12000 more characters omitted …]" in prompt
    assert len(prompt) < 9000


def test_field_types_are_dotted_for_nested_objects():
    assert field_types(FACTS_SCHEMA) == {
        "summary": "string",
        "facts": "array",
        "meta": "object",
        "meta.author": "object",
        "meta.author.name": "string",
    }
    assert field_types({"type": "object", "properties": {"level": {"enum": ["a"]}}}) == {"level": "any"}
    assert field_types({"type": "string"}) == {}
