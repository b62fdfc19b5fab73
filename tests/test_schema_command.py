"""`muxc schema workflow|config` prints the JSON Schemas from the installed package, with `$id`."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from muxc.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["workflow", "config"])
def test_muxc_schema_prints_the_shipped_schema_with_its_id(name: str) -> None:
    result = CliRunner().invoke(main, ["schema", name])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    assert schema["$id"] == f"urn:muxc:schema:{name}"
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert result.stdout == (ROOT / "docs" / "schema" / f"{name}.schema.json").read_text(encoding="utf-8")
    assert json.loads(CliRunner().invoke(main, ["schema", name, "--output", "json"]).stdout) == schema


def test_an_unknown_schema_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["schema", "workflows"])
    assert result.exit_code == 2
    assert "'workflows' is not one of 'workflow', 'config'" in result.stderr


def test_the_wheel_ships_the_schemas_where_muxc_reads_them() -> None:
    from muxc.base import resources

    built = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    packaged = built["force-include"]["docs/schema"]
    assert packaged == "muxc/_data/schema"
    assert ROOT / packaged == resources._PACKAGE / "_data" / "schema"  # the directory data_dir tries first
