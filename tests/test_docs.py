"""The generated reference docs match the code, and the JSON Schemas agree with muxc.

- ``docs/diagnostics.md``, ``docs/cli.md``, ``docs/schema/*.json`` and the generated tables of
  ``docs/configuration.md`` are regenerated in memory and compared with the files.
- Every stdlib and example workflow (``.mux`` converted with ``muxc fmt --to toml``) and every
  llm-mux README workflow in ``tests/frontend/seeds`` validates against ``workflow.schema.json``.
- Broken workflows and configs fail the schema *and* muxc's own checks, so the schema never
  rejects what muxc accepts in these cases, nor accepts what it rejects.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from muxc.app.api import format_file
from muxc.diagnostics.sink import DiagnosticSink
from tools import docgen

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "docs" / "schema"
SEEDS = ROOT / "tests" / "frontend" / "seeds"
WORKFLOWS = sorted(
    [*ROOT.glob("stdlib/*.mux"), *ROOT.glob("examples/workflows/*.mux"), *ROOT.glob("examples/workflows/*.toml"),
     *SEEDS.glob("workflows/*.toml")]
)


def validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def schema_errors(name: str, data: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator(name).iter_errors(data)]


def as_toml_data(path: Path) -> dict:
    if path.suffix == ".mux":
        result = format_file(path, "toml")
        assert result.text is not None, f"{path} does not convert to TOML"
        return tomllib.loads(result.text)
    return tomllib.loads(path.read_text(encoding="utf-8"))


# --- generated files ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(docgen.generate(ROOT)), ids=lambda p: str(p.relative_to(ROOT)))
def test_generated_file_is_up_to_date(path: Path) -> None:
    expected = docgen.generate(ROOT)[path]
    actual = path.read_text(encoding="utf-8") if path.is_file() else None
    assert actual == expected, f"{path.relative_to(ROOT)} is out of date: run `python -m tools.docgen`"


def test_every_diagnostic_code_is_documented() -> None:
    from muxc.diagnostics.catalog import CATALOG

    text = (ROOT / "docs" / "diagnostics.md").read_text(encoding="utf-8")
    for code in CATALOG:
        assert f"### {code.name}\n" in text


def test_every_command_has_its_help_in_cli_md() -> None:
    from muxc.cli import COMMANDS

    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for name in COMMANDS:
        assert f"## muxc {name}\n" in text
    assert "Usage: muxc memory facts" in text


def test_configuration_md_has_a_table_for_every_config_section() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for region in docgen.config_tables():
        assert f"<!-- BEGIN GENERATED config:{region} -->" in text


def test_every_config_field_has_a_description() -> None:
    # Generation raises for a field without a description, or a description without a field.
    docgen.config_schema()
    assert docgen._stale_docs() == []


# --- the workflow schema -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_and_llm_mux_workflows_validate(path: Path) -> None:
    assert schema_errors("workflow.schema.json", as_toml_data(path)) == []


SHELL = '[[steps]]\nname = "a"\ntype = "shell"\nrun = "ls"\n'
BROKEN_WORKFLOWS = {
    "unknown step field": 'name = "w"\n' + SHELL + 'promt = "x"',
    "unknown top-level key": 'name = "w"\nnmae = "w"\n' + SHELL,
    "config section in a workflow": 'name = "w"\n[backends.x]\ncommand = "claude"\n' + SHELL,
    "bad step type": 'name = "w"\n[[steps]]\nname = "a"\ntype = "querry"\nrole = "r"\nprompt = "p"',
    "query without role": 'name = "w"\n[[steps]]\nname = "a"\ntype = "query"\nprompt = "p"',
    "shell without run": 'name = "w"\n[[steps]]\nname = "a"\ntype = "shell"',
    "apply without source": 'name = "w"\n[[steps]]\nname = "a"\ntype = "apply"',
    "step without type": 'name = "w"\n[[steps]]\nname = "a"\nrun = "ls"',
    "depends_on not a list": 'name = "w"\n' + SHELL + 'depends_on = "b"',
    "duration without unit": 'name = "w"\n' + SHELL + 'timeout = "5 minutes"',
    "suspicious duration": 'name = "w"\n' + SHELL + "timeout = 30",
    "bad cache policy type": 'name = "w"\n' + SHELL + "cache = 7",
    "bad output_schema type": 'name = "w"\n[[steps]]\nname = "q"\ntype = "query"\nrole = "r"\nprompt = "p"\n'
                              '[steps.output_schema]\ntype = "list"',
    "bad execution": 'name = "w"\n[roles.r]\nbackends = ["x"]\nexecution = "paralel"\n' + SHELL,
    "arg with unknown key": 'name = "w"\n[args.pr]\nrequird = true\n' + SHELL,
    "arg default not a string": 'name = "w"\n[args.n]\ndefault = 3\n' + SHELL,
    "missing name": SHELL,
}


@pytest.mark.parametrize("text", BROKEN_WORKFLOWS.values(), ids=BROKEN_WORKFLOWS.keys())
def test_broken_workflows_fail_the_schema_and_muxc(text: str) -> None:
    assert schema_errors("workflow.schema.json", tomllib.loads(text)), "the schema accepts it"
    assert muxc_workflow_errors(text), "muxc accepts it"


def muxc_workflow_errors(text: str) -> int:
    """Errors from parsing and checking, as `muxc check` would report them (with the built-in config)."""
    from muxc.config.defaults import builtin_config
    from muxc.syntax import parse_workflow

    sink = DiagnosticSink()
    workflow = parse_workflow(text, "w.toml", sink)
    if workflow is not None and not sink.error_count:
        from muxc.check import check

        check(workflow, builtin_config(), sink)
    return sink.error_count


def test_a_step_with_every_field_validates() -> None:
    text = '''
name = "all"
description = "every field"
version = 2
timeout = "1h"
continue_on_error = true

[args.base]
default = "HEAD"
description = "the base"

[args.file]
required = true

[roles.pair]
backends = ["a", "b"]
execution = "fallback"
fallback_on = ["timeout", "rate_limit", "empty"]

[[steps]]
name = "q"
type = "query"
role = "pair"
prompt = "{{ args.base }}"
system = "be brief"
save = "out/{{ args.base }}.md"
depends_on = []
if = "args.base"
for_each = "['a', 'b']"
inputs = ["src/**/*.rs"]
always = false
cache = "7d"
version = "x"
timeout = 120000
retries = 2
retry_delay = "2s"
parallel = true
min_success = 1
params = { temperature = 0.2, max_tokens = 800 }
schema_retries = 1

[steps.output_schema]
type = "object"
required = ["edits"]
properties = { edits = { type = "array", items = { type = "string" } } }

[[steps]]
name = "fix"
type = "apply"
source = "q"
verify = "cargo test"
verify_retries = 2
verify_retry_prompt = "{{ error }}"
verify_timeout = "5m"
rollback_on_failure = true

[[steps]]
name = "ok"
type = "input"
prompt = "Apply?"
options = ["yes", "no"]
default = "no"
'''
    assert schema_errors("workflow.schema.json", tomllib.loads(text)) == []


# --- the config schema ---------------------------------------------------------------------------------

REALISTIC_CONFIG = '''
[defaults]
max_concurrent = 4
command_wrapper = "nix-shell --run '{cmd}'"

[backends.claude]
command = "claude"
args = ["-p", "--output-format", "text"]
timeout = "10m"
max_concurrent = 2
env = [["NO_COLOR", "1"]]

[backends.codex]
command = "codex"
args = ["exec", "--json"]
env = { CODEX_QUIET = "1" }
retry_timeout = true
reads_project = true

[backends.openai]
command = "https://api.openai.com/v1"
model = "gpt-4.1"
credentials = ["env:OPENAI_KEY_A", "OPENAI_KEY_B"]
timeout = 300
retry_delay = 1000
max_retries = 3
connect_timeout = "10s"
idle_timeout = 120
max_rate_limit_wait = "15m"
params = { temperature = 0.2 }
headers = { "OpenAI-Organization" = "${OPENAI_ORG:-}" }
price = { input = 2.0, output = 8.0, cache_read = 0.5 }

[backends.anthropic]
type = "claude-api"
model = "claude-sonnet-4-20250514"
api_key_env = "ANTHROPIC_API_KEY"
stream = true

[backends.ollama]
base_url = "http://127.0.0.1:11434/v1"
protocol = "openai"
model = "qwen2.5-coder"
enabled = false

[backends.qwen]
base_url = "http://127.0.0.1:8081/v1"
model = "qwen"

[backends.qwen.managed]
start = "llama-server -m qwen.gguf --port 8081"
health = "curl -fsS http://127.0.0.1:8081/health"
start_timeout = "5m"
slots = 1
keep_running = false

[roles.analyzer]
description = "audits and reviews"
backends = ["claude", "codex"]
execution = "parallel"
min_success = 1
stop_early = true

[roles.coder]
backends = ["claude", "openai"]
execution = "fallback"
fallback_on = ["rate_limit", "timeout", "empty"]

[teams.rust]
description = "Rust projects"
detect = ["Cargo.toml"]
verify = "cargo clippy && cargo test"

[teams.rust.roles.analyzer]
backends = ["codex"]
execution = "first"

[ecosystems.shop]
description = "the shop"
knowledge = ["orders go through the api"]

[ecosystems.shop.projects.api]
path = "~/src/shop-api"
type = "rust"
depends_on = ["db"]
tags = ["backend"]

[budget]
max_usd = 5.0
max_calls = 200

[resources]
slots = 2

[cache]
salt = "2025-01"
'''

CONFIG_ENV = {"OPENAI_KEY_A": "sk-a", "OPENAI_KEY_B": "sk-b", "ANTHROPIC_API_KEY": "sk-c"}
CONFIG_DOCS = ("configuration.md", "backends.md")


def muxc_config_diagnostics(text: str, environ: dict[str, str] = CONFIG_ENV) -> list:
    """Errors muxc reports for a config file, merged over the built-in config as `muxc check` does."""
    from muxc.config.build import build_config, merge
    from muxc.config.defaults import builtin_config
    from muxc.config.validate import validate_config
    from muxc.diagnostics.model import Severity
    from muxc.syntax import toml_front

    sink = DiagnosticSink()
    document = toml_front.parse(text, "config.toml", sink)
    assert document is not None
    config = build_config(document.root, "config.toml", sink, environ)
    validate_config(merge([builtin_config(), config]), sink)
    return [d for d in sink if d.severity is Severity.ERROR]


def muxc_config_errors(text: str, environ: dict[str, str] = CONFIG_ENV) -> int:
    return len(muxc_config_diagnostics(text, environ))


def toml_blocks(name: str) -> list[str]:
    text = (ROOT / "docs" / name).read_text(encoding="utf-8")
    return re.findall(r"^```toml\n(.*?)^```", text, re.S | re.M)


@pytest.mark.parametrize("name", CONFIG_DOCS)
def test_config_examples_in_the_docs_are_valid(name: str) -> None:
    """Every ```toml block of the config docs is a config file both the schema and muxc accept,
    with every variable it references set. A block may name a backend another block of the same
    page defines; broken examples are fenced as plain text."""
    blocks = toml_blocks(name)
    assert blocks
    defined = {backend for block in blocks for backend in tomllib.loads(block).get("backends", {})}
    for block in blocks:
        environ = {var: "x" for var in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", block)}
        assert schema_errors("config.schema.json", tomllib.loads(block)) == [], block
        errors = [d.message for d in muxc_config_diagnostics(block, environ)
                  if not (d.code == "unknown-backend" and any(f"backend `{b}`" in d.message for b in defined))]
        assert errors == [], block


def test_a_realistic_config_validates_in_the_schema_and_in_muxc() -> None:
    assert schema_errors("config.schema.json", tomllib.loads(REALISTIC_CONFIG)) == []
    assert muxc_config_errors(REALISTIC_CONFIG) == 0


@pytest.mark.parametrize("path", sorted(SEEDS.glob("config/*.toml")), ids=lambda p: p.name)
def test_llm_mux_readme_configs_validate(path: Path) -> None:
    assert schema_errors("config.schema.json", tomllib.loads(path.read_text(encoding="utf-8"))) == []


BROKEN_CONFIGS = {
    "typo in a backend key": ('command = "claude"', 'comand = "claude"'),
    "typo in a section": ("[budget]", "[budgte]"),
    "bad execution": ('execution = "fallback"', 'execution = "fallbak"'),
    "bad fallback kind": ('"rate_limit", "timeout"', '"rate-limit", "timeout"'),
    "duration without unit": ('timeout = "10m"', 'timeout = "10 minutes"'),
    "suspicious retry_delay": ("retry_delay = 1000", "retry_delay = 50"),
    "typo in managed": ("keep_running = false", "keep_runing = false"),
    "project without path": ('path = "~/src/shop-api"\n', ""),
    "role without backends": ('backends = ["claude", "openai"]\n', ""),
}


@pytest.mark.parametrize("change", BROKEN_CONFIGS.values(), ids=BROKEN_CONFIGS.keys())
def test_broken_configs_fail_the_schema_and_muxc(change: tuple[str, str]) -> None:
    good, bad = change
    text = REALISTIC_CONFIG.replace(good, bad, 1)
    assert text != REALISTIC_CONFIG
    assert schema_errors("config.schema.json", tomllib.loads(text)), "the schema accepts it"
    assert muxc_config_errors(text), "muxc accepts it"


# --- links ---------------------------------------------------------------------------------------

LINKED_DOCS = ("index.md", "getting-started.md", "configuration.md", "backends.md", "cli.md", "diagnostics.md")


def anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.S | re.M)
    found = set()
    for heading in re.findall(r"^#+ (.+)$", text, re.M):
        found.add(re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-"))
    return found


@pytest.mark.parametrize("name", LINKED_DOCS)
def test_links_between_docs_resolve(name: str) -> None:
    text = re.sub(r"^```.*?^```", "", (ROOT / "docs" / name).read_text(encoding="utf-8"), flags=re.S | re.M)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith(("http://", "https://")):
            continue
        file, _, anchor = target.partition("#")
        path = ROOT / "docs" / (file or name)
        if not path.exists() or (anchor and path.suffix == ".md" and anchor not in anchors(path)):
            broken.append(target)
    assert broken == []
