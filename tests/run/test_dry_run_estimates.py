"""`--dry-run` estimates the queries it would make, even before their inputs are built: tokens
from the template and the upstream outputs (last size, or an upstream query's estimated answer,
or a typical size), a price from the config or the list prices of well-known models; every
figure labelled with what it was sized from."""

from __future__ import annotations

AUDIT = """
    workflow w "a shell step, two queries on it, a summary of both"

    shell sources:
        cat src.txt

    query safety @analyzer:
        Review the safety of this code, finding by finding, with line numbers:
        {{ sources }}

    query summary @synthesizer:
        Sum up these findings for a busy reader:
        {{ safety }}
    """

REMOTE = """
    [backends.openai]
    base_url = "https://api.openai.com/v1"
    api_key = "sk-not-used-by-a-dry-run"
    model = "gpt-4o-mini-2024-07-18"
    """


def _route_to(project, backend: str) -> None:
    project.write(".muxc/config.toml", project.read(".muxc/config.toml").replace('backends = ["fake"]',
                                                                                   f'backends = ["{backend}"]'))


def test_a_first_dry_run_estimates_unbuilt_inputs_at_list_price(project, snapshot):
    project.write("src.txt", "fn main() { unsafe { danger() } }\n" * 200)  # 7,000 characters
    project.config(REMOTE)
    _route_to(project, "openai")
    project.workflow(AUDIT)
    result = project.cli("build", "w", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == snapshot


def test_after_a_build_the_estimate_uses_the_last_output_and_the_configured_price(project, snapshot):
    project.write("src.txt", "fn main() { unsafe { danger() } }\n" * 200)
    project.workflow(AUDIT)
    project.build()
    project.write("src.txt", "fn main() { unsafe { danger() } }\n" * 199 + "fn safe() {}\n")
    project.write(".muxc/config.toml", project.read(".muxc/config.toml").replace(
        'model = "m"', 'model = "m"\nprice = { input = 3.0, output = 15.0 }'))
    result = project.cli("build", "w", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "in: template ~" in result.stdout and "`sources` ~1,700 (its last output)" in result.stdout
    assert "out: average of 2 calls to `fake`" in result.stdout
    assert result.stdout == snapshot


def test_a_dry_run_says_when_a_query_would_run_on_a_role_that_cannot_answer(project):
    project.config('[backends.gone]\ncommand = "no-such-llm-cli-here"\n')
    _route_to(project, "gone")
    project.write("src.txt", "code\n")
    project.workflow(AUDIT)
    result = project.cli("build", "w", "--dry-run")
    assert result.exit_code == 0
    assert result.stdout.count("  cannot answer here: `gone`: 'no-such-llm-cli-here' is not on PATH\n") == 2
    assert "cost: no price known for `gone`: set [backends.gone.price]" in result.stdout
    assert result.stdout.endswith("3 steps would run; LLM estimate ~1,529 tokens in, ~1,000 out, cost unknown "
                                  "(no price)\n")


def test_a_dry_run_in_json_carries_each_estimate(project):
    project.write("src.txt", "code\n")
    project.config(REMOTE)
    _route_to(project, "openai")
    project.workflow(AUDIT)
    import json

    doc = json.loads(project.cli("build", "w", "--dry-run", "--output", "json").stdout)
    estimates = {step["name"]: step.get("estimate") for step in doc["steps"]}
    assert estimates["sources"] is None
    assert estimates["safety"]["basis"] == "template ~18 + `sources` ~1,000 (typical for a shell step)"
    assert estimates["summary"]["price"] == "list price of gpt-4o-mini (2025-10)"
    assert estimates["summary"]["input_tokens"] == 511 and estimates["summary"]["cost_usd"] > 0
