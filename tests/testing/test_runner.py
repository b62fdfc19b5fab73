"""``muxc test`` runs cases in temporary projects with scripted answers and checks what they expect."""

from __future__ import annotations

from pathlib import Path

from tests.testing.conftest import Suite

PASSING = """
    workflow = "review.mux"

    [[test]]
    name = "approves"
    files = { "a.txt" = "hello\\n" }
    answers = { verdict = '{"ok": true, "notes": ["fine", "short"]}' }

    [[test.expect]]
    step = "content"
    equals = "hello"
    lines = 1

    [[test.expect]]
    step = "verdict"
    json = "$.notes[1]"
    equals = "short"

    [[test.expect]]
    file = "out/verdict.md"
    contains = ["ok", "fine"]
    regex = '^\\{"ok": true'

    [test.run]
    ran = ["content", "verdict"]
    calls = 1
    success = true
"""


def test_a_passing_test_prints_a_summary_and_exits_0(suite: Suite) -> None:
    suite.write("review.test.toml", PASSING)
    result = suite.test(code=0)
    assert "review.test.toml ." in result.stdout
    assert result.stdout.rstrip().splitlines()[-1].strip(" =").startswith("1 passed, 0 failed in ")


def test_a_failing_assertion_shows_where_it_is_and_expected_vs_got(suite: Suite) -> None:
    suite.write("review.test.toml", PASSING.replace('equals = "short"', 'equals = "long"'))
    result = suite.test(code=1)
    assert "review.test.toml F" in result.stdout
    assert "error[test-failed]: step `verdict` at $.notes[1] is not the expected text" in result.stdout
    assert "--> review.test.toml:16:10" in result.stdout
    assert "expected: long" in result.stdout and "got: short" in result.stdout
    assert "0 passed, 1 failed" in result.stdout


def test_each_check_kind_reports_its_own_failure(suite: Suite) -> None:
    suite.write("review.test.toml", """
        workflow = "review.mux"

        [[test]]
        name = "all wrong"
        files = { "a.txt" = "one\\ntwo\\n" }
        answers = { verdict = "plain text" }

        [[test.expect]]
        step = "content"
        lines = 3
        not_contains = "two"
        regex = "^three$"

        [[test.expect]]
        step = "verdict"
        json = "ok"

        [[test.expect]]
        file = "out/nothing.md"
        exists = true

        [test.run]
        ran = ["content"]
        cached = ["verdict"]
        calls = 2
    """)
    doc = suite.json(code=1)
    messages = [failure["message"] for failure in doc["tests"][0]["failures"]]
    assert messages == [
        "step `content` contains 'two'",
        "step `content` does not match /^three$/",
        "step `content` has 2 lines, not 3",
        "step `verdict` at ok: the text holds no JSON",
        "file out/nothing.md: expected it exists",
        "the steps that ran differ",
        "the steps that cached differ",
        "the build made 1 LLM calls, not 2",
    ]
    ran = doc["tests"][0]["failures"][5]
    assert (ran["expected"], ran["got"]) == ("content", "content, verdict")


def test_answers_are_used_in_order_and_the_last_one_repeats(suite: Suite) -> None:
    suite.write("twice.mux", """
        workflow twice "Ask for each item"

        query each @analyzer [for_each = '["a", "b", "c"]']:
            Say {{ item }}
    """)
    suite.write("twice.test.toml", """
        workflow = "twice.mux"

        [[test]]
        name = "three calls"
        answers = { each = ["first", "second"] }

        [test.run]
        calls = 3
        ran = ["each"]
    """)
    suite.test("twice.test.toml", code=0)


def test_a_query_without_a_scripted_answer_fails_and_says_where_to_add_one(suite: Suite) -> None:
    suite.write("review.test.toml", """
        workflow = "review.mux"

        [[test]]
        name = "unscripted"
        files = { "a.txt" = "x" }
    """)
    doc = suite.json(code=1)
    [failure] = doc["tests"][0]["failures"]
    assert failure["code"] == "cassette-miss"
    assert failure["message"] == "query step `verdict` of workflow `review` has no answer in this test"
    assert "[test.answers]" in failure["help"] and "--record-missing" in failure["help"]


def test_a_failing_build_can_be_expected(suite: Suite) -> None:
    suite.write("review.test.toml", """
        workflow = "review.mux"

        [[test]]
        name = "missing input file"
        answers = { verdict = "x" }

        [test.run]
        success = false
        failed = ["content"]
        calls = 0

        [[test.expect]]
        file = "out/verdict.md"
        exists = false
    """)
    suite.test(code=0)


def test_fixture_directories_args_and_inline_files_make_the_project(suite: Suite) -> None:
    suite.write("fixtures/basic/src/b.txt", "from the fixture\n")
    suite.write("fixtures/basic/a.txt", "replaced below\n")
    suite.write("review.test.toml", """
        workflow = "review.mux"

        [[test]]
        name = "fixture"
        fixture = "fixtures/basic"
        args = { file = "src/b.txt" }
        files = { "a.txt" = "inline wins" }
        answers = { verdict = "ok" }

        [[test.expect]]
        step = "content"
        equals = "from the fixture"

        [[test.expect]]
        file = "a.txt"
        equals = "inline wins"
    """)
    suite.test(code=0)


def test_k_selects_tests_and_j_runs_them_in_processes(suite: Suite) -> None:
    second = PASSING.replace('name = "approves"', 'name = "again"')
    suite.write("review.test.toml", PASSING + second.split('workflow = "review.mux"', 1)[1])
    doc = suite.json("-j", "2", code=0)
    assert [(t["name"], t["outcome"]) for t in doc["tests"]] == [("approves", "passed"), ("again", "passed")]
    doc = suite.json("-k", "again", code=0)
    assert [t["id"] for t in doc["tests"]] == ["review.test.toml::again"]
    assert (doc["passed"], doc["failed"], doc["errors"]) == (1, 0, 0)


def test_each_case_runs_in_a_fresh_project(suite: Suite) -> None:
    """Nothing is cached between cases or runs, and the suite's directory is left as it was."""
    suite.write("review.test.toml", PASSING)
    suite.test(code=0)
    suite.test(code=0)  # `ran` would say `cached` if state leaked from the first run
    assert sorted(p.name for p in suite.root.iterdir()) == ["review.mux", "review.test.toml"]


def test_no_tests_found_is_a_failure_and_a_missing_path_is_usage(suite: Suite) -> None:
    assert "no tests found" in suite.test(code=1).stdout
    assert "no such file or directory: nowhere" in suite.test("nowhere", code=2).output


def test_junit_writes_one_testcase_per_test_with_its_failure(suite: Suite) -> None:
    import xml.etree.ElementTree as ET

    failing = PASSING.replace('name = "approves"', 'name = "wrong"').replace('calls = 1', 'calls = 5')
    suite.write("review.test.toml", PASSING + failing.split('workflow = "review.mux"', 1)[1])
    suite.test("--junit", "reports/junit.xml", code=1)
    root = ET.parse(suite.root / "reports/junit.xml").getroot()
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("2", "1", "0")
    cases = root.findall("testsuite/testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [("review.test.toml", "approves"),
                                                                    ("review.test.toml", "wrong")]
    failure = cases[1].find("failure")
    assert failure is not None and failure.get("message") == "the build made 1 LLM calls, not 5"
    assert "expected: 5" in (failure.text or "")


def test_exit_codes_and_json_schemas_are_checked(suite: Suite) -> None:
    suite.write("codes.mux", """
        workflow codes "Exit codes"

        shell ok: printf '{"n": 3, "tags": ["a"]}'

        shell broken [continue_on_error = true]: exit 3
    """)
    suite.write("codes.test.toml", """
        workflow = "codes.mux"

        [[test]]
        name = "codes"

        [[test.expect]]
        step = "ok"
        exit_code = 0
        schema = { type = "object", required = ["n", "tags"], properties = { n = { type = "integer" }, tags = { type = "array" } } }

        [[test.expect]]
        step = "broken"
        exit_code = 3

        [[test.expect]]
        step = "ok"
        schema = { type = "object", properties = { n = { type = "string" } } }

        [test.run]
        success = true  # continue_on_error
    """)
    doc = suite.json("codes.test.toml", code=1)
    failures = doc["tests"][0]["failures"]
    assert [f["message"] for f in failures] == ["step `ok` does not satisfy the schema: $.n: expected string, got number 3"]


def test_a_bad_schema_is_diagnosed_where_it_is(suite: Suite) -> None:
    suite.write("review.test.toml", """
        workflow = "review.mux"

        [[test]]
        name = "x"

        [[test.expect]]
        step = "verdict"
        schema = { type = "thing" }
    """)
    doc = suite.json(code=1)
    found = [(d["code"], d["line"], d["column"]) for d in doc["diagnostics"]]
    assert found == [("invalid-output-schema", 8, 10)]


def test_junit_validates_against_the_schema_ci_tools_read(suite: Suite) -> None:
    import xml.etree.ElementTree as ET

    import xmlschema

    schema = xmlschema.XMLSchema(Path(__file__).parent / "schemas" / "junit.xsd")
    failing = PASSING.replace('name = "approves"', 'name = "wrong <&> \\"quoted\\""').replace('calls = 1', 'calls = 5')
    suite.write("review.test.toml", PASSING + failing.split('workflow = "review.mux"', 1)[1])
    suite.write("broken.test.toml", 'workflow = "review.mux"\n[[test]]\nname = "typo"\nanswers = { verdikt = "x" }\n')
    suite.test("--junit", "reports/junit.xml", code=1)
    report = suite.root / "reports/junit.xml"
    schema.validate(str(report))  # raises with the offending element and the rule it breaks
    root = ET.parse(report).getroot()
    assert [(s.get("name"), s.get("tests"), s.get("failures"), s.get("errors")) for s in root.iter("testsuite")] == [
        ("broken.test.toml", "1", "0", "1"), ("review.test.toml", "2", "1", "0")]
    assert root.find("testsuite/testcase/error").get("type") == "unknown-step"
    assert [c.get("name") for c in root.iter("testcase")][-1] == 'wrong <&> "quoted"'
    # the validator is not vacuous: a report missing what Ant's format requires is refused
    broken = report.read_text().replace(' hostname="', ' host="', 1)
    assert not schema.is_valid(broken)
