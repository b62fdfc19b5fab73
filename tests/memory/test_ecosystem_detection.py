"""Ecosystem detection on real directories: nearest project wins, deterministically."""

from __future__ import annotations

import itertools
import json

import pytest

from muxc.app.ecosystems import detect_ecosystem, ecosystem_summary
from muxc.config.schema import EcosystemConfig, ProjectConfig
from muxc.diagnostics.span import Span
from muxc.lang.origin import Origin


def project(name, path, **extra):
    return ProjectConfig(name=name, path=str(path), **extra)


def ecosystem(name, *projects, **extra):
    return EcosystemConfig(name=name, projects={p.name: p for p in projects}, **extra)


@pytest.fixture
def tree(tmp_path):
    """home/, home/work/mono (a monorepo) and home/work/mono/services/api (a project inside it)."""
    home = tmp_path / "home"
    api = home / "work" / "mono" / "services" / "api"
    (api / "src").mkdir(parents=True)
    return home


def permutations_of(ecosystems):
    """Every order of the ecosystems and of each ecosystem's projects."""
    for eco_order in itertools.permutations(ecosystems):
        for project_orders in itertools.product(
            *(itertools.permutations(eco.projects.values()) for eco in eco_order)
        ):
            yield {
                eco.name: ecosystem(eco.name, *projects, description=eco.description)
                for eco, projects in zip(eco_order, project_orders, strict=True)
            }


def test_nearest_nested_project_wins_under_every_dict_order(tree):
    mono = ecosystem("mono", project("monorepo", "~/work/mono"), project("api", "~/work/mono/services/api"))
    other = ecosystem("other", project("everything", "~/work"))
    results = {
        (found.name, found.current_project.name)
        for ecosystems in permutations_of([mono, other])
        if (found := detect_ecosystem(tree / "work/mono/services/api/src", ecosystems, tree))
    }
    assert results == {("mono", "api")}


def test_outer_project_matches_outside_the_inner_one(tree):
    mono = ecosystem("mono", project("monorepo", "~/work/mono"), project("api", "~/work/mono/services/api"))
    found = detect_ecosystem(tree / "work/mono/services", {"mono": mono}, tree)
    assert found is not None
    assert found.current_project.name == "monorepo"


def test_equal_paths_tie_break_on_ecosystem_then_project_name(tree):
    zeta = ecosystem("zeta", project("a", "~/work"))
    alpha = ecosystem("alpha", project("y", "~/work"), project("x", "~/work"))
    results = {
        (found.name, found.current_project.name)
        for ecosystems in permutations_of([zeta, alpha])
        if (found := detect_ecosystem(tree / "work", ecosystems, tree))
    }
    assert results == {("alpha", "x")}


def test_tilde_expands_with_the_given_home_not_the_environment(tree, monkeypatch):
    monkeypatch.setenv("HOME", "/nonexistent")
    found = detect_ecosystem(tree / "work", {"e": ecosystem("e", project("w", "~/work"))}, tree)
    assert found is not None
    assert found.current_project.path == str((tree / "work").resolve())
    assert detect_ecosystem(tree, {"e": ecosystem("e", project("h", "~"))}, tree) is not None


def test_missing_project_paths_are_skipped(tree):
    eco = ecosystem(
        "e", project("gone", "~/work/mono/services/api/src/deleted"), project("mono", "~/work/mono")
    )
    found = detect_ecosystem(tree / "work/mono/services/api/src", {"e": eco}, tree)
    assert found is not None
    assert found.current_project.name == "mono"


def test_no_match_is_none(tree, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert detect_ecosystem(elsewhere, {"e": ecosystem("e", project("w", "~/work"))}, tree) is None
    assert detect_ecosystem(elsewhere, {}, tree) is None


def test_sibling_with_a_common_name_prefix_does_not_match(tree):
    (tree / "work" / "mono-tools").mkdir()
    eco = ecosystem("e", project("mono", "~/work/mono"))
    assert detect_ecosystem(tree / "work" / "mono-tools", {"e": eco}, tree) is None


def test_symlinked_directory_is_canonicalised(tree, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(tree / "work" / "mono")
    found = detect_ecosystem(link / "services", {"e": ecosystem("e", project("mono", "~/work/mono"))}, tree)
    assert found is not None
    assert found.current_project.name == "mono"


def test_relative_path_is_taken_from_the_config_files_directory(tree):
    origin = Origin(file=str(tree / "work" / "muxc.syntax.toml"), span=Span(0, 0))
    eco = ecosystem("e", project("mono", "mono", origin=origin))
    found = detect_ecosystem(tree / "work/mono", {"e": eco}, tree)
    assert found is not None
    assert found.current_project.path == str((tree / "work/mono").resolve())
    assert detect_ecosystem(tree / "work/mono", {"e": ecosystem("e", project("m", "mono"))}, tree) is None


def test_template_value_is_plain_data(tree):
    eco = ecosystem(
        "mono",
        project("web", "~/work/nowhere", type="node", depends_on=["api"], tags=["ui"]),
        project("api", "~/work/mono/services/api", type="python", description="the API"),
        description="Acme's services",
        knowledge=["docs/architecture.md"],
    )
    found = detect_ecosystem(tree / "work/mono/services/api", {"mono": eco}, tree)
    assert found is not None
    value = found.as_template_value()
    api = {
        "name": "api",
        "path": str((tree / "work/mono/services/api").resolve()),
        "type": "python",
        "depends_on": [],
        "tags": [],
        "description": "the API",
    }
    web = {
        "name": "web",
        "path": str((tree / "work/nowhere").resolve()),
        "type": "node",
        "depends_on": ["api"],
        "tags": ["ui"],
        "description": "",
    }
    assert value == {
        "name": "mono",
        "description": "Acme's services",
        "knowledge": ["docs/architecture.md"],
        "projects": [api, web],
        "current_project": api,
    }
    assert json.loads(json.dumps(value)) == value
    value["projects"].clear()  # a fresh copy: the detected result is unaffected
    assert len(found.projects) == 2


def test_summary_rows_for_the_listing(tree):
    ecosystems = {
        "zeta": ecosystem("zeta"),
        "mono": ecosystem(
            "mono",
            project("web", "~/work/nowhere", depends_on=["api", "ghost"]),
            project("api", "~/work/mono/services/api", tags=["py"]),
        ),
    }
    rows = ecosystem_summary(ecosystems, tree, project_dir=tree / "work/mono/services/api")
    assert [row.name for row in rows] == ["mono", "zeta"]
    mono, zeta = rows
    assert (mono.current, zeta.current, zeta.projects) == (True, False, [])
    api, web = mono.projects
    assert (api.name, api.exists, api.current, api.tags, api.problems) == ("api", True, True, ["py"], [])
    assert (web.name, web.exists, web.current) == ("web", False, False)
    assert web.problems == ["path does not exist", "depends on unknown project 'ghost'"]
    assert all(not row.current for row in ecosystem_summary(ecosystems, tree))
