"""Every workflow and config example of the llm-mux README and blog works in muxc unchanged.

``seeds/text/`` holds the seed texts verbatim: ``002_…`` is the README with its TOML, ``001_…``
a newer copy of the README whose keys were stripped (``= "review"`` for ``name = "review"``)
but which has sections ``002`` lacks (ecosystems, store steps), and ``000_…`` is the blog post.
``seeds/workflows/`` and ``seeds/config/`` hold each example as a file. Lines marked
``# added`` complete a fragment (a workflow name the snippet leaves out, a step it reads);
everything else is checked here to be verbatim from the seed (for ``readme001-*`` files: the
keys restored, the values verbatim, which the mangling check proves).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from muxc.app.api import Project, load_config
from muxc.app.api import Report as ApiReport
from tests.frontend.support import SEEDS, diagnostics

TEXT = SEEDS / "text"
README = (TEXT / "002_8b2e1e48ec86a65b.txt").read_text()
README_MANGLED = (TEXT / "001_9c4637cc020cdb30.txt").read_text()
BLOG = (TEXT / "000_6e99589d939e61be.txt").read_text()
WORKFLOWS = sorted((SEEDS / "workflows").glob("*.toml"))
README_CONFIG = SEEDS / "config" / "readme-config.toml"
ECOSYSTEMS_CONFIG = SEEDS / "config" / "readme001-ecosystems.toml"
BLOG_CONFIG = SEEDS / "config" / "blog-config.toml"

# The README's "Parallel Analysis" role names `gemini`, which its config never defines; a user
# who runs that example has one. This is the only backend the tests add.
EXTRA_BACKENDS = '[backends.gemini]\ncommand = "gemini"\n'
KEYS = {"OPENAI_API_KEY": "sk-test", "ENV_VAR": "test"}  # the README config's ${...} references


def original_lines(path: Path) -> list[str]:
    """The file's lines that claim to come from a seed (not blank, not marked as added)."""
    return [line for line in path.read_text().splitlines()
            if line.strip() and "# added" not in line and not line.startswith("# keys restored")]


def mangled(line: str) -> str:
    """A line as the mangled README copy shows it: keys and table names dropped, space squeezed."""
    line = line.strip()
    line = re.sub(r"^\[\[[^\]]*\]\]", "[[]]", line)
    line = re.sub(r"^\[[^\]]*\]$", "[]", line)
    line = re.sub(r"^[A-Za-z_][A-Za-z0-9_.-]* = ", "= ", line)
    return re.sub(r" {2,}#", " #", line)


def is_contiguous_in(lines: list[str], text: str) -> bool:
    haystack = text.splitlines()
    return any(haystack[i : i + len(lines)] == lines for i in range(len(haystack) - len(lines) + 1))


# --- the files are faithful ------------------------------------------------------------


@pytest.mark.parametrize("path", [*WORKFLOWS, README_CONFIG, BLOG_CONFIG], ids=lambda p: p.name)
def test_every_original_line_is_verbatim_from_its_seed(path: Path) -> None:
    if path.name.startswith("readme001"):
        assert is_contiguous_in([mangled(line) for line in original_lines(path)], README_MANGLED)
        return
    seed = BLOG if path.name.startswith("blog") else README
    seed_lines = set(seed.splitlines())
    assert [line for line in original_lines(path) if line not in seed_lines] == []


def test_the_ecosystems_config_is_the_mangled_readme_with_its_keys_restored() -> None:
    assert is_contiguous_in([mangled(line) for line in original_lines(ECOSYSTEMS_CONFIG)], README_MANGLED)


def test_every_toml_example_of_the_readme_has_a_file() -> None:
    blocks = re.findall(r"```toml\n(.*?)```", README, flags=re.S)
    assert len(blocks) == 11
    workflows = [path.read_text() for path in WORKFLOWS]
    for block in blocks:
        if "[[steps]]" in block:
            assert any(block.strip() in text for text in workflows), block
        else:
            assert block.strip() in README_CONFIG.read_text(), block


# --- they check clean --------------------------------------------------------------------


@pytest.fixture
def readme_project(project: Path, isolated_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose .muxc/config.toml is the README's config plus its ecosystems, with the
    user config adding the one backend the examples name but the README never configures."""
    (project / ".muxc").mkdir()
    (project / ".muxc" / "config.toml").write_text(README_CONFIG.read_text() + "\n" + ECOSYSTEMS_CONFIG.read_text())
    user = Path(isolated_env["XDG_CONFIG_HOME"]) / "muxc"
    user.mkdir(parents=True)
    (user / "config.toml").write_text(EXTRA_BACKENDS)
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    return project


EXPECTED_WARNINGS = {
    "readme-conditionals.toml": ["step-name-not-identifier"],  # rust-only
    "readme-iteration.toml": ["step-name-not-identifier"],  # check-files
    "readme-fix-with-verification.toml": ["implicit-arg"],  # {{ args.file }}, no [args]
    "readme-parallel-analysis.toml": ["implicit-arg"],
    "readme-step-types.toml": ["implicit-arg"],  # {{ args.issue }}
    "readme001-step-types-with-store.toml": ["implicit-arg"],
    "readme001-discover.toml": ["short-timeout"],  # timeout = 180 meant seconds; llm-mux ignored it
}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_seed_workflow_checks_without_errors(path: Path, readme_project: Path, muxc) -> None:
    result = muxc("check", "--format", "json", str(path.relative_to(SEEDS)), cwd=SEEDS)
    found = diagnostics(result)
    assert result.exit_code == 0, found
    assert {d["severity"] for d in found} <= {"warning"}
    assert [d["code"] for d in found] == EXPECTED_WARNINGS.get(path.name, [])


def test_all_seed_workflows_at_once_in_concise_format(readme_project: Path, muxc) -> None:
    result = muxc("check", "--format", "concise", *(str(p.relative_to(SEEDS)) for p in WORKFLOWS), cwd=SEEDS)
    assert result.exit_code == 0
    assert "error" not in result.stdout
    assert result.stderr == f"checked {len(WORKFLOWS)} workflows: 7 warnings (`muxc explain CODE` explains a code)\n"


# --- the README's config -----------------------------------------------------------------


def config_report(project: Path, environ: dict[str, str]) -> tuple[object, list]:
    report = ApiReport()
    config = load_config(Project(project, environ), report)
    return config, report.diagnostics


def test_the_readme_config_loads_every_section(readme_project: Path, isolated_env: dict[str, str]) -> None:
    config, found = config_report(readme_project, {**isolated_env, **KEYS})
    assert found == []
    assert {"claude", "codex", "ollama", "openai", "local", "example", "gemini"} <= set(config.backends)
    assert config.backends["openai"].api_key == "${OPENAI_API_KEY}"  # kept unexpanded: a secret
    assert config.backends["local"].command == "http://localhost:11434/v1"  # replaces the built-in `local`
    assert config.roles["analyzer"].backends == ["claude", "codex"]
    assert config.roles["analyzer"].execution == "parallel"
    assert config.teams["rust"].roles["analyzer"].backends == ["claude", "codex"]
    myapp = config.ecosystems["myapp"]
    assert list(myapp.projects) == ["frontend", "api", "database", "worker"]
    assert myapp.projects["worker"].depends_on == ["database", "api"]
    assert len(myapp.knowledge) == 3


def test_the_readme_config_without_openai_api_key_reports_it_at_the_reference(
        readme_project: Path, isolated_env: dict[str, str], muxc, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    shutil.copy(SEEDS / "workflows" / "readme-review.toml", readme_project / "review.toml")
    unreached = muxc("check", "--format", "json", "review.toml", cwd=readme_project)
    assert (unreached.exit_code, diagnostics(unreached)) == (0, [])  # its `analyzer` never asks `openai`
    with (readme_project / "review.toml").open("a") as review:
        review.write('\n[roles.analyzer]\nbackends = ["openai"]\n')
    result = muxc("check", "--format", "json", "review.toml", cwd=readme_project)
    assert result.exit_code == 1
    [missing] = diagnostics(result)
    assert missing["code"] == "missing-env-var"
    assert missing["file"] == ".muxc/config.toml"
    line = (readme_project / ".muxc" / "config.toml").read_text().splitlines()[missing["line"] - 1]
    assert line[missing["column"] - 1 : missing["end_column"] - 1] == "${OPENAI_API_KEY}"


def test_the_readme_config_at_llm_muxs_own_user_path_is_read(isolated_env: dict[str, str], project: Path) -> None:
    """The README says to create ~/.config/llm-mux/config.toml; muxc reads it too."""
    llm_mux = Path(isolated_env["XDG_CONFIG_HOME"]) / "llm-mux"
    llm_mux.mkdir()
    shutil.copy(README_CONFIG, llm_mux / "config.toml")
    config, found = config_report(project, {**isolated_env, **KEYS})
    assert found == []
    assert config.roles["quick"].backends == ["ollama"]


def test_the_blog_config_in_a_project_names_a_backend_it_never_defines(
        isolated_env: dict[str, str], project: Path, muxc, monkeypatch: pytest.MonkeyPatch) -> None:
    """A user with the README's config in ~/.config/llm-mux and the blog's in the project: the
    blog's `quick` role names `qwen`, which neither defines (its `codex` comes from the user's)."""
    llm_mux = Path(isolated_env["XDG_CONFIG_HOME"]) / "llm-mux"
    llm_mux.mkdir()
    shutil.copy(README_CONFIG, llm_mux / "config.toml")
    (project / ".muxc").mkdir()
    shutil.copy(BLOG_CONFIG, project / ".muxc" / "config.toml")
    shutil.copy(SEEDS / "workflows" / "blog-role-based-step.toml", project / "w.toml")
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    result = muxc("check", "--format", "json", "w.toml", cwd=project)
    [unknown] = diagnostics(result)
    assert (unknown["code"], unknown["file"], unknown["message"]) == (
        "unknown-backend", ".muxc/config.toml", "role `quick` names backend `qwen`, which is not configured")
