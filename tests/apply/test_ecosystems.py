"""Ecosystem detection in a build: nested project paths (the nearest wins), ``ecosystem.*`` in
templates, and ``muxc ecosystems``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

WHERE = """
    workflow x "where am I"

    shell where: echo {{ ecosystem.name }}/{{ ecosystem.current_project.name }} {{ ecosystem.projects | length }}
    """


def nested(proj, tmp_path: Path) -> Path:
    """A user config with two ecosystems whose project paths nest: tmp/ ⊃ project/ ⊃ project/services/svc/."""
    svc = proj.root / "services" / "svc"
    (svc / ".muxc" / "workflows").mkdir(parents=True)
    (svc / ".muxc" / "workflows" / "x.mux").write_text(WHERE.replace("\n    ", "\n").lstrip("\n"))
    proj.workflow(WHERE)
    user_config = Path(proj.env["XDG_CONFIG_HOME"]) / "muxc" / "config.toml"
    user_config.parent.mkdir(parents=True)
    user_config.write_text(f"""
[ecosystems.platform]
description = "everything"
[ecosystems.platform.projects.all]
path = "{tmp_path}"

[ecosystems.shop]
description = "the shop"
[ecosystems.shop.projects.mono]
path = "{proj.root}"
type = "python"
[ecosystems.shop.projects.svc]
path = "{svc}"
depends_on = ["mono"]
[ecosystems.shop.projects.gone]
path = "{tmp_path / 'does-not-exist'}"
""")
    proj.commit()
    return svc


def muxc_in(proj, directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "muxc", *args], cwd=directory, env=proj.env, text=True,
                          capture_output=True, timeout=60)


def test_the_nearest_project_wins_and_templates_see_it(proj, tmp_path):
    svc = nested(proj, tmp_path)
    assert proj.build().stdout == "shop/mono 3\n"
    inner = muxc_in(proj, svc, "build", "x")
    assert inner.returncode == 0, inner.stderr
    assert inner.stdout == "shop/svc 3\n"
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / ".muxc" / "workflows").mkdir(parents=True)
    (elsewhere / ".muxc" / "workflows" / "x.mux").write_text(WHERE.replace("\n    ", "\n").lstrip("\n"))
    outer = muxc_in(proj, elsewhere, "build", "x")
    assert outer.stdout == "platform/all 1\n", outer.stderr


def test_muxc_ecosystems_lists_them_and_marks_the_current_project(proj, tmp_path):
    svc = nested(proj, tmp_path)
    listed = json.loads(muxc_in(proj, svc, "ecosystems", "--output", "json").stdout)
    assert [(e["name"], e["current"]) for e in listed] == [("platform", False), ("shop", True)]
    shop = {p["name"]: p for p in listed[1]["projects"]}
    assert [name for name, p in shop.items() if p["current"]] == ["svc"]
    assert shop["gone"]["exists"] is False and shop["gone"]["problems"] == ["path does not exist"]
    assert shop["svc"]["depends_on"] == ["mono"] and shop["mono"]["type"] == "python"
    text = muxc_in(proj, proj.root, "ecosystems")
    assert "shop: the shop" in text.stdout and "platform: everything" in text.stdout
    assert "name=mono" in text.stdout and "current=True" in text.stdout


def test_without_an_ecosystem_a_template_reading_it_fails_with_a_hint(proj):
    proj.workflow(WHERE)
    proj.commit()
    done = proj.build(code=1)
    assert "this project is not in any configured ecosystem" in done.stderr
