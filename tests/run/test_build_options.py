"""Build options: --force, --refresh, --keep-going, --replay, --dry-run, --max-calls, --max-cost,
-m/--model and --role, and options from MUXC_* environment variables."""

from __future__ import annotations

import pytest

from tests.support.llm_server import Reply

CHAIN = """
    workflow w "a probe, a query on it, a summary"

    shell probe [inputs = ["src/*.txt"]]:
        echo probe >> "$COUNTER"
        cat src/*.txt

    query review @analyzer:
        Review {{ probe }}

    query summary @synthesizer:
        Summarize {{ review }}
    """


@pytest.fixture
def chain(project):
    project.workflow(CHAIN)
    project.write("src/a.txt", "alpha\n")
    assert project.build().ran == {"probe", "review", "summary"}
    assert project.ran() == ["probe"]
    project.server.reset()
    return project


def test_force_reruns_every_step(chain):
    built = chain.build("--force")
    assert built.ran == {"probe", "review", "summary"}
    assert {step["reason"] for step in built.doc["steps"]} == {"forced"}
    assert chain.ran() == ["probe"] and chain.calls == 2
    assert chain.build().ran == set()


def test_refresh_reruns_that_step_and_dependents_only_if_its_output_changed(chain):
    built = chain.build("--refresh", "review")
    assert built.ran == {"review"} and built.cached == {"probe", "summary"}
    assert built.step("review")["reason"] == "forced"
    assert chain.calls == 1 and chain.ran() == []

    chain.server.script(Reply(text="a new opinion"))
    built = chain.build("--refresh", "review")
    assert built.ran == {"review", "summary"}
    assert chain.prompts()[-1] == "Summarize a new opinion\n"


def test_refresh_can_be_repeated(chain):
    built = chain.build("--refresh", "probe", "--refresh", "summary")
    assert built.ran == {"probe", "summary"} and built.cached == {"review"}
    assert chain.ran() == ["probe"] and chain.calls == 1


BRANCHES = """
    workflow w "a failing branch and an independent one"

    shell broken:
        echo broken >> "$COUNTER"
        echo "cannot parse config" >&2
        exit 3

    shell after:
        echo after >> "$COUNTER"
        echo {{ broken }}

    shell independent:
        echo independent >> "$COUNTER"
        echo fine
    """


def test_without_keep_going_a_failure_stops_the_build(project):
    project.workflow(BRANCHES)
    built = project.build("-j", "1", code=1)
    assert built.status == {"broken": "failed", "after": "not reached", "independent": "not reached"}
    assert project.ran() == ["broken"]
    assert built.doc["success"] is False


@pytest.mark.parametrize("jobs", ["1", "4"])
def test_keep_going_runs_the_independent_branch(project, jobs):
    project.workflow(BRANCHES)
    built = project.build("--keep-going", "-j", jobs, code=1)
    assert built.status == {"broken": "failed", "after": "not reached", "independent": "ran"}
    assert sorted(project.ran()) == ["broken", "independent"]
    assert built.step("broken")["error"] == "the command exited with code 3"


def test_replay_serves_everything_from_the_cache(chain):
    built = chain.build("--replay")
    assert built.cached == {"probe", "review", "summary"}
    assert chain.calls == 0 and chain.ran() == []


def test_replay_fails_on_a_miss_and_runs_nothing(chain):
    chain.write("src/a.txt", "beta\n")
    result = chain.cli("build", "w", "--replay")
    assert result.exit_code == 1
    assert "step `probe` failed: not in the cache and --replay forbids running it (src/a.txt changed)" in \
        result.stderr
    assert chain.calls == 0 and chain.ran() == []
    assert "0 ran" in result.stderr


def test_dry_run_runs_nothing_and_shows_what_would_run_and_why(chain):
    chain.workflow(CHAIN.replace("Review {{ probe }}", "Review carefully {{ probe }}"))
    result = chain.cli("build", "w", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert chain.calls == 0 and chain.ran() == []
    out = result.stdout
    assert "probe" not in out.split("would run")[0]  # up-to-date steps are not listed
    assert "review (query) would run: prompt changed\n  prompt:\n    Review carefully alpha\n" in out
    assert "summary (query) would run: after steps.review runs (unless its output is the same)" in out
    assert "2 steps would run" in out
    # nothing was recorded: the real build still has to run the query
    assert chain.build().ran == {"review", "summary"}


def test_dry_run_of_a_fresh_project_renders_the_first_prompts(project):
    project.workflow(CHAIN)
    project.write("src/a.txt", "alpha\n")
    result = project.cli("build", "w", "--dry-run")
    assert result.exit_code == 0
    assert "probe (shell) would run: never built" in result.stdout
    assert 'echo probe >> "$COUNTER"' in result.stdout
    assert project.ran() == [] and project.calls == 0


def test_dry_run_when_everything_is_up_to_date(chain):
    result = chain.cli("build", "w", "--dry-run")
    assert result.stdout == "nothing would run: every step is up to date\n"


def test_max_calls_stops_asking(project):
    project.workflow(CHAIN)
    project.write("src/a.txt", "alpha\n")
    built = project.build("--max-calls", "1", code=1)
    assert built.status == {"probe": "ran", "review": "ran", "summary": "failed"}
    assert built.step("summary")["error"] == "not asked: the limit of 1 LLM calls is reached"
    assert project.calls == 1
    # the next build asks only what is missing
    assert project.build().ran == {"summary"}


def test_max_cost_stops_asking_once_spent(project):
    project.config("""
        [backends.fake.price]
        input = 1000.0
        output = 0.0
        """)
    project.workflow(CHAIN)
    project.write("src/a.txt", "alpha\n")
    project.server.script(Reply(text="costly", usage={"prompt_tokens": 1000, "completion_tokens": 1,
                                                        "total_tokens": 1001}))
    built = project.build("--max-cost", "0.5", code=1)
    assert built.step("review")["cost_usd"] == pytest.approx(1.0)
    assert built.step("summary")["error"] == "not asked: the cost limit of $0.50 is reached ($1.00 spent)"
    assert project.calls == 1


def test_refresh_of_an_unknown_step_is_a_usage_error(chain):
    result = chain.cli("build", "w", "--refresh", "reveiw")
    assert result.exit_code == 2
    assert "Error: --refresh reveiw: `w` has no step `reveiw`; did you mean `review`?" in result.stderr
    assert chain.calls == 0 and chain.ran() == []


def test_max_calls_holds_with_parallel_steps_and_items(project):
    project.server.latency = 0.2  # every call is still in flight when the others start
    project.workflow("""
        workflow w "six questions at once"

        query each @analyzer [for_each = "['a', 'b', 'c', 'd']"]:
            Describe {{ item }}

        query one @analyzer:
            One?

        query two @analyzer:
            Two?
        """)
    built = project.build("--max-calls", "2", "-j", "4", code=1)
    assert project.calls == 2
    errors = [step["error"] for step in built.doc["steps"] if step["error"]]
    assert errors and all("the limit of 2 LLM calls is reached" in error for error in errors)


OTHER = """
    [backends.other]
    command = "{url}"
    model = "m2"
    """


@pytest.fixture
def two_backends(chain):
    chain.config(OTHER.format(url=chain.server.openai_url))
    return chain


def _models(project) -> list[str]:
    return [request.body["model"] for request in project.server.completions]


def test_model_answers_every_query_through_that_backend_and_the_keys_follow(two_backends):
    project = two_backends
    status = project.cli("status", "w", "-m", "other")
    assert status.stdout.splitlines() == ["probe: up to date", "review: would run — the model changed: m -> m2",
                                          "summary: would run — the model changed: m -> m2"]
    built = project.build("-m", "other")
    assert built.ran == {"review", "summary"} and built.cached == {"probe"}
    assert _models(project) == ["m2", "m2"]
    assert project.build("-m", "other").ran == set()  # cached under the backend that answered
    assert project.build().ran == set() and project.calls == 2  # and the usual backend's results are kept
    assert project.cli("status", "w", "--model", "other", "--exit-code").exit_code == 0
    assert project.ran() == []


def test_role_answers_one_role_through_another_backend(two_backends):
    project = two_backends
    built = project.build("--role", "synthesizer=other")
    assert built.ran == {"summary"} and _models(project) == ["m2"]
    dry = project.cli("build", "w", "--dry-run", "--role", "synthesizer=other")
    assert dry.exit_code == 0 and project.calls == 1


def test_unknown_model_or_role_is_a_usage_error_with_the_close_name(two_backends):
    project = two_backends
    for args, message in ((["-m", "othr"], "--model: no backend or role named 'othr'; did you mean `other`?"),
                          (["--role", "synthesiser=other"],
                           "--role synthesiser=other: no role named 'synthesiser'; did you mean `synthesizer`?"),
                          (["--role", "synthesizer"], "--role 'synthesizer' is not key=value")):
        for command in ("build", "status"):
            result = project.cli(command, "w", *args)
            assert result.exit_code == 2 and message in result.stderr, (command, args, result.stderr)
    assert project.calls == 0


def test_options_come_from_muxc_environment_variables(two_backends):
    project = two_backends
    import json
    import subprocess
    import sys

    env = {**project.env, "MUXC_BUILD_MODEL": "other", "MUXC_OUTPUT": "json"}
    done = subprocess.run([sys.executable, "-m", "muxc", "build", "w"], cwd=project.root, env=env, text=True,
                          capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)  # MUXC_OUTPUT=json
    assert {s["name"] for s in doc["steps"] if s["status"] == "ran"} == {"review", "summary"}
    assert _models(project) == ["m2", "m2"]
    flag = subprocess.run([sys.executable, "-m", "muxc", "build", "w", "-m", "fake"], cwd=project.root,
                          env={**env, "MUXC_BUILD_FORCE": "1"}, text=True, capture_output=True, timeout=60)
    assert flag.returncode == 0 and _models(project)[2:] == ["m", "m"]  # the command line wins; the flag forces
    assert {s["reason"] for s in json.loads(flag.stdout)["steps"]} == {"forced"}


def test_muxc_dir_names_the_project_as_c_does(two_backends, tmp_path):
    import json
    import subprocess
    import sys

    project = two_backends
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**project.env, "MUXC_DIR": str(project.root), "MUXC_OUTPUT": "json"}
    done = subprocess.run([sys.executable, "-m", "muxc", "build", "w"], cwd=elsewhere, env=env, text=True,
                          capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["workflow"] == "w"  # found in the project's .muxc/workflows
