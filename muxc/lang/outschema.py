"""``output_schema``: check a schema, describe it to the LLM, validate answers, re-ask once.

A schema is a plain dict in llm-mux's subset of JSON Schema, extended to any depth:

- ``type``: ``object``, ``array``, ``string``, ``number``, ``integer`` or ``boolean`` (required,
  unless ``enum`` is given);
- ``properties`` (object): name → schema; ``required`` (object): names listed in ``properties``;
  ``additionalProperties`` (object): ``false`` rejects unlisted keys;
- ``items`` (array): the schema of every element;
- ``enum``: the allowed values; ``description``: text for the LLM, ignored by validation.

Invariants: pure; :func:`prompt_suffix` is byte-for-byte deterministic (fixed keyword order,
properties sorted by name, absent keywords omitted, never ``null``), because the prompt feeds
cache keys; violations come in a stable order with ``$``-rooted JSON paths. :func:`validate`
assumes a schema :func:`schema_errors` accepted, and ignores what it does not understand.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

import msgspec

TYPES = ("object", "array", "string", "number", "integer", "boolean")
KEYWORDS = ("type", "description", "enum", "required", "properties", "items", "additionalProperties")
# Which type each type-specific keyword belongs to.
_KEYWORD_TYPE = {
    "required": "object",
    "properties": "object",
    "additionalProperties": "object",
    "items": "array",
}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ANSWER_LIMIT = 8000  # characters of the previous answer quoted in a retry prompt


class SchemaViolation(msgspec.Struct, frozen=True):
    """One way a value fails its schema: ``path`` is like ``$.facts[2].confidence``."""

    path: str
    message: str

    def text(self) -> str:
        return f"{self.path}: {self.message}"


# ---------------------------------------------------------------------------------------------
# Validation


def validate(value: Any, schema: dict[str, Any]) -> list[SchemaViolation]:
    """Every violation of ``schema`` by ``value`` (empty when it conforms)."""
    return list(_violations(value, schema, "$"))


def _violations(value: Any, schema: dict[str, Any], path: str) -> Iterator[SchemaViolation]:
    expected = schema.get("type")
    if expected in TYPES and not _has_type(value, expected):
        yield SchemaViolation(path, f"expected {expected}, got {_describe(value)}")
        return  # the keywords below assume the type matched
    if "enum" in schema and not _in_enum(value, schema["enum"]):
        yield SchemaViolation(path, f"expected one of {_enum_text(schema['enum'])}, got {_short(value)}")
    if isinstance(value, dict):
        yield from _object_violations(value, schema, path)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            yield from _violations(item, schema["items"], f"{path}[{index}]")


def _object_violations(value: dict[str, Any], schema: dict[str, Any], path: str) -> Iterator[SchemaViolation]:
    properties = schema.get("properties") or {}
    for name in schema.get("required") or ():
        if name not in value:
            yield SchemaViolation(path, f"missing required property {json.dumps(name)}")
    for name, sub in properties.items():
        if name in value and isinstance(sub, dict):
            yield from _violations(value[name], sub, _child(path, name))
    if schema.get("additionalProperties") is False:
        for name in value:
            if name not in properties:
                yield SchemaViolation(
                    path, f"unexpected property {json.dumps(name)} (additionalProperties is false)"
                )


def _has_type(value: Any, expected: str) -> bool:
    # bool is an int in Python but never a number in JSON.
    if isinstance(value, bool):
        return expected == "boolean"
    if expected == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    kinds = {"object": dict, "array": list, "string": str, "number": (int, float)}
    return expected in kinds and isinstance(value, kinds[expected])


def _in_enum(value: Any, allowed: Any) -> bool:
    # Compare as JSON so that true never equals 1, as JSON Schema requires.
    return isinstance(allowed, list) and any(_same_json(value, option) for option in allowed)


def _same_json(a: Any, b: Any) -> bool:
    return (type(a) is type(b) and a == b) or (_is_number(a) and _is_number(b) and a == b)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _describe(value: Any) -> str:
    """'string "high"', 'number 3', 'object', ... for messages."""
    name = _json_type(value)
    return name if name in ("object", "array", "null") else f"{name} {_short(value)}"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "string" if isinstance(value, str) else "number"


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _enum_text(allowed: Any) -> str:
    return ", ".join(_short(option) for option in allowed) if isinstance(allowed, list) else "?"


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if _IDENTIFIER.match(name) else f"{path}[{json.dumps(name)}]"


# ---------------------------------------------------------------------------------------------
# Is the schema itself well-formed?


def schema_errors(schema: Any) -> list[str]:
    """Problems with the schema itself, each as ``"<path>: <message>"``; empty when well-formed."""
    return list(_schema_problems(schema, "$"))


def _schema_problems(schema: Any, path: str) -> Iterator[str]:
    if not isinstance(schema, dict):
        yield f"{path}: a schema must be a table, got {_json_type(schema)}"
        return
    for key in schema:
        if key not in KEYWORDS:
            yield f"{path}: unsupported keyword {json.dumps(key)} (supported: {', '.join(KEYWORDS)})"
    yield from _type_problems(schema, path)
    yield from _keyword_placement_problems(schema, path)
    yield from _enum_problems(schema, path)
    yield from _object_keyword_problems(schema, path)
    if "items" in schema:
        yield from _schema_problems(schema["items"], f"{path}[]")
    if "description" in schema and not isinstance(schema["description"], str):
        yield f"{path}: 'description' must be a string"


def _type_problems(schema: dict[str, Any], path: str) -> Iterator[str]:
    kind = schema.get("type")
    if kind is None and "enum" not in schema:
        yield f"{path}: missing 'type' (one of {', '.join(TYPES)})"
    elif kind is not None and kind not in TYPES:
        yield f"{path}: unknown type {_short(kind)} (expected one of {', '.join(TYPES)})"


def _keyword_placement_problems(schema: dict[str, Any], path: str) -> Iterator[str]:
    kind = schema.get("type")
    for key, owner in _KEYWORD_TYPE.items():
        if key in schema and kind in TYPES and kind != owner:
            yield f"{path}: '{key}' only applies to type {owner}, but the type is {kind}"


def _enum_problems(schema: dict[str, Any], path: str) -> Iterator[str]:
    if "enum" not in schema:
        return
    allowed, kind = schema["enum"], schema.get("type")
    if not isinstance(allowed, list) or not allowed:
        yield f"{path}: 'enum' must be a non-empty list"
        return
    for option in allowed:
        if kind in TYPES and not _has_type(option, kind):
            yield f"{path}: enum value {_short(option)} is not of type {kind}"


def _object_keyword_problems(schema: dict[str, Any], path: str) -> Iterator[str]:
    properties = schema.get("properties", {})
    if not isinstance(properties, dict):
        yield f"{path}: 'properties' must be a table of property schemas"
        properties = {}
    for name, sub in properties.items():
        yield from _schema_problems(sub, _child(path, name))
    yield from _required_problems(schema.get("required", []), properties, path)
    if "additionalProperties" in schema and not isinstance(schema["additionalProperties"], bool):
        yield f"{path}: 'additionalProperties' must be true or false"


def _required_problems(required: Any, properties: dict[str, Any], path: str) -> Iterator[str]:
    if not isinstance(required, list) or not all(isinstance(name, str) for name in required):
        yield f"{path}: 'required' must be a list of property names"
        return
    for name in required:
        if name not in properties:
            yield f"{path}: 'required' names {json.dumps(name)}, which is not in 'properties'"


# ---------------------------------------------------------------------------------------------
# Prompts


def prompt_suffix(schema: dict[str, Any]) -> str:
    """The text appended to a query prompt with a schema, including the separating blank line.

    Same wording as llm-mux, but deterministic: the schema is canonicalised first.
    """
    pretty = json.dumps(canonical(schema), indent=2, ensure_ascii=False)
    noun = {"object": "JSON object", "array": "JSON array"}.get(schema.get("type", ""), "JSON value")
    return (
        "\n\nIMPORTANT: You MUST respond with valid JSON matching this schema:\n"
        f"```json\n{pretty}\n```\n\n"
        f"Do not include any text before or after the {noun}."
    )


def canonical(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with keywords in a fixed order, properties and required sorted, nothing null."""
    out: dict[str, Any] = {}
    for key in KEYWORDS:
        if schema.get(key) is not None:
            out[key] = _canonical_value(key, schema[key])
    return out


def _canonical_value(key: str, value: Any) -> Any:
    if key == "properties" and isinstance(value, dict):
        return {name: _canonical_any(value[name]) for name in sorted(value)}
    if key == "items":
        return _canonical_any(value)
    if key == "required" and isinstance(value, list):
        return sorted(value, key=str)
    return value


def _canonical_any(value: Any) -> Any:
    return canonical(value) if isinstance(value, dict) else value


def retry_prompt(original_prompt: str, answer: str, violations: Sequence[SchemaViolation]) -> str:
    """The prompt for the one re-ask after a schema failure.

    ``original_prompt`` is the prompt as sent (schema suffix included); no ``violations`` means
    the answer held no parsable JSON at all.
    """
    return (
        f"{original_prompt}\n\n"
        f"Your previous answer was:\n<previous-answer>\n{_clip(answer)}\n</previous-answer>\n\n"
        f"{_problem_text(violations)}\n\n"
        "Respond again with only the corrected JSON, matching the schema above."
    )


def _problem_text(violations: Sequence[SchemaViolation]) -> str:
    if not violations:
        return "It did not contain any valid JSON."
    lines = "\n".join(f"- {violation.text()}" for violation in violations)
    return f"It did not match the required JSON schema:\n{lines}"


def _clip(answer: str) -> str:
    if len(answer) <= _ANSWER_LIMIT:
        return answer
    omitted = len(answer) - _ANSWER_LIMIT
    return f"{answer[:_ANSWER_LIMIT]}\n[… {omitted} more characters omitted …]"


# ---------------------------------------------------------------------------------------------
# Types for the checker


def field_types(schema: dict[str, Any]) -> dict[str, str]:
    """``{"summary": "string", "meta": "object", "meta.author": "string", ...}``.

    Covers the properties of the top-level object and, dotted, of nested objects (not of array
    elements). A property without a type (an ``enum`` alone) is ``"any"``.
    """
    return dict(_field_types(schema, ""))


def _field_types(schema: dict[str, Any], prefix: str) -> Iterator[tuple[str, str]]:
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return
    for name, sub in properties.items():
        if not isinstance(sub, dict):
            continue
        yield prefix + name, sub.get("type") if sub.get("type") in TYPES else "any"
        yield from _field_types(sub, f"{prefix}{name}.")
