"""A rebuild reruns exactly what an edit touched: nothing after no edit, the probe and its
queries after a source edit, one query after a prompt edit (and its dependents only when its
answer changed), nothing after a cosmetic template edit."""

from __future__ import annotations

import pytest

from tests.support.llm_server import Reply

AUDIT = """
    workflow w "a probe, two queries reading it, a summary of one"

    shell probe [inputs = ["src/*.txt"]]:
        echo probe >> "$COUNTER"
        cat src/*.txt

    query review @analyzer:
        Review this:

        {{ probe }}

    query style @analyzer:
        Check the style.
        Text: {{ probe }}

    query summary @synthesizer:
        Summarize: {{ review }}
    """


@pytest.fixture
def audit(project):
    project.workflow(AUDIT)
    project.write("src/a.txt", "alpha\n")
    project.write("notes.md", "not read by anyone\n")
    first = project.build()
    assert first.ran == {"probe", "review", "style", "summary"}
    assert project.ran() == ["probe"] and project.calls == 3
    project.server.reset()
    return project


def test_a_second_build_runs_nothing(audit):
    again = audit.build()
    assert again.status == dict.fromkeys(["probe", "review", "style", "summary"], "cached")
    assert all(step["cached"] for step in again.doc["steps"])
    assert audit.ran() == [] and audit.calls == 0
    assert again.output == "answer to: Summarize: answer to: Review this:\n\nalpha\n\n"


def test_editing_a_file_the_probe_reads_reruns_the_probe_and_the_queries_after_it(audit):
    audit.write("src/a.txt", "beta\n")
    again = audit.build()
    assert again.ran == {"probe", "review", "style", "summary"}
    assert audit.ran() == ["probe"] and audit.calls == 3
    assert "beta" in again.output
    assert "src/a.txt changed" in again.step("probe")["reason"]
    assert again.step("review")["reason"] == "prompt changed because steps.probe changed"


def test_a_new_file_matching_the_inputs_reruns_the_probe(audit):
    audit.write("src/b.txt", "gamma\n")
    assert audit.build().ran == {"probe", "review", "style", "summary"}
    assert audit.ran() == ["probe"]


def test_editing_a_file_nobody_reads_reruns_nothing(audit):
    audit.write("notes.md", "edited\n")
    audit.write("src/other.md", "not matched by src/*.txt\n")
    assert audit.build().ran == set()
    assert audit.ran() == [] and audit.calls == 0


def test_a_probe_whose_output_is_unchanged_stops_the_rebuild_there(audit):
    audit.write("src/a.txt", "alpha\n\n")  # a different file, the same `cat` output after trimming
    again = audit.build()
    assert again.ran == {"probe"} and again.cached == {"review", "style", "summary"}
    assert audit.calls == 0


# --- shell steps without inputs read the project -------------------------------------------


PROJECT_PROBE = """
    workflow w "a probe of the whole project"

    shell probe:
        echo probe >> "$COUNTER"
        echo files: $(ls src | wc -l)
    """


@pytest.fixture
def whole(project):
    project.workflow(PROJECT_PROBE)
    project.write("src/a.txt", "alpha\n")
    project.commit()
    assert project.build().ran == {"probe"}
    assert project.ran() == ["probe"]
    return project


def test_an_ignored_file_changes_nothing(whole):
    whole.write("ignored/cache.bin", "x")
    whole.write("debug.log", "y")
    assert whole.build().ran == set()
    assert whole.ran() == []


def test_editing_a_tracked_file_reruns_a_shell_step_without_inputs(whole):
    whole.write("src/a.txt", "edited\n")
    built = whole.build()
    assert built.ran == {"probe"} and whole.ran() == ["probe"]
    assert built.step("probe")["reason"] == "src/a.txt changed"


def test_an_untracked_file_that_is_not_ignored_reruns_it(whole):
    whole.write("new.py", "print()\n")
    built = whole.build()
    assert built.ran == {"probe"} and whole.ran() == ["probe"]
    assert built.step("probe")["reason"] == "new.py changed"


@pytest.mark.parametrize("suffix", ["mux", "toml"])
def test_empty_inputs_declare_a_shell_step_that_reads_no_file(project, suffix):
    text = {"mux": """
        workflow w "a reshaping step that reads no file"

        shell words: echo alpha beta

        shell shout [inputs = []]:
            echo shout >> "$COUNTER"
            echo {{ words }} | tr a-z A-Z
        """, "toml": """
        name = "w"

        [[steps]]
        name = "words"
        type = "shell"
        run = "echo alpha beta"

        [[steps]]
        name = "shout"
        type = "shell"
        inputs = []
        run = \"\"\"
        echo shout >> "$COUNTER"
        echo {{ words }} | tr a-z A-Z\"\"\"
        """}[suffix]
    project.workflow(text, suffix=suffix)
    assert project.build().output == "ALPHA BETA"
    project.write("src/new.rs", "fn main() {}\n")
    again = project.build()
    assert again.status == {"words": "ran", "shout": "cached"}  # `words` reads the project, `shout` nothing
    assert project.ran() == ["shout"]


def test_the_builds_own_saved_outputs_never_make_the_next_build_rerun(project):
    project.workflow("""
        workflow w "a probe of the project and a saved report"

        shell probe:
            echo probe >> "$COUNTER"
            git ls-files --others --exclude-standard | sort

        query report @analyzer > "reports/out.md":
            Report on {{ probe }}
        """)
    project.commit()
    assert project.build().ran == {"probe", "report"}
    assert (project.root / "reports/out.md").is_file()
    assert "reports/out.md" in project.git("ls-files", "--others", "--exclude-standard")
    project.ran()
    assert project.build().ran == set()
    assert project.ran() == [] and project.calls == 1


# --- prompts and early cutoff --------------------------------------------------------------


def test_editing_one_prompt_reruns_that_query_only(audit):
    audit.workflow(AUDIT.replace("Check the style.", "Check the naming."))
    again = audit.build()
    assert again.ran == {"style"} and again.cached == {"probe", "review", "summary"}
    assert audit.ran() == [] and audit.calls == 1
    assert audit.prompts() == ["Check the naming.\nText: alpha\n"]
    assert again.step("style")["reason"] == "prompt changed"


def test_early_cutoff_a_rerun_with_the_same_answer_leaves_dependents_cached(audit):
    audit.server.script(Reply(text="answer to: Review this:\n\nalpha\n"))  # what it said the first time
    audit.workflow(AUDIT.replace("Review this:", "Review this carefully:"))
    again = audit.build()
    assert again.ran == {"review"} and again.cached == {"probe", "style", "summary"}
    assert audit.calls == 1


def test_a_rerun_with_a_different_answer_reruns_its_dependents(audit):
    audit.server.script(Reply(text="a different review"))
    audit.workflow(AUDIT.replace("Review this:", "Review this carefully:"))
    again = audit.build()
    assert again.ran == {"review", "summary"} and again.cached == {"probe", "style"}
    assert audit.prompts() == ["Review this carefully:\n\nalpha\n", "Summarize: a different review\n"]
    assert again.step("summary")["reason"] == "prompt changed because steps.review changed"
    assert again.output == "answer to: Summarize: a different review\n"


INDENT = "\n        "  # a line of a step's body in AUDIT


@pytest.mark.parametrize("edit", [
    pytest.param(("Text: {{ probe }}", "Text: {{probe}}"), id="no-spaces-in-braces"),
    pytest.param(("Text: {{ probe }}", "Text: {{ probe }}   "), id="trailing-spaces"),
    pytest.param(("Text: {{ probe }}", "Text: {{ probe }} {# the whole file #}"),
                 id="jinja-comment-at-line-end"),
    pytest.param((INDENT + "Review this:\n", INDENT + "{# reviewed by the analyzer role #}" + INDENT + "Review this:\n"),
                 id="jinja-comment-line-first"),
    pytest.param(("Check the style." + INDENT, "Check the style." + INDENT + "{# keep it short #}" + INDENT),
                 id="jinja-comment-line-between-lines"),
    pytest.param(("Review this:\n\n", "Review this:\n\n\n"), id="extra-blank-line"),
    pytest.param(("Summarize: {{ review }}\n", "Summarize: {{ review }}\n\n\n"), id="blank-lines-at-end"),
    pytest.param(("{{ review }}", "{{ review | string }}"), id="equivalent-expression"),
])
def test_cosmetic_template_edits_rerun_nothing(audit, edit):
    old, new = edit
    assert old in AUDIT
    audit.workflow(AUDIT.replace(old, new))
    again = audit.build()
    assert again.ran == set(), again.doc["steps"]
    assert audit.calls == 0 and audit.ran() == []


def test_a_cosmetic_edit_to_a_command_reruns_nothing(audit):
    audit.workflow(AUDIT.replace('echo probe >> "$COUNTER"', 'echo probe >>  "$COUNTER"   {# counted #}'))
    assert audit.build().ran == {"probe"}  # two spaces in a command are a different command...
    assert audit.ran() == ["probe"]
    assert audit.calls == 0  # ...but its output is the same, so nothing after it reruns


# --- for_each ------------------------------------------------------------------------------


EACH = """
    workflow w "one query per listed file"

    shell files [inputs = ["list.txt"]]:
        echo files >> "$COUNTER"
        cat list.txt

    query each @analyzer [for_each = "files | lines"]:
        Describe {{ item }}

    shell count:
        echo count >> "$COUNTER"
        printf '%s' {{ each }} | wc -l
    """


def test_for_each_runs_each_item_once_and_a_new_item_alone(project):
    project.workflow(EACH)
    project.write("list.txt", "a.rs\nb.rs\n")
    first = project.build()
    assert first.ran == {"files", "each", "count"}
    assert sorted(project.prompts()) == ["Describe a.rs\n", "Describe b.rs\n"]
    project.server.reset()

    assert project.build().ran == set() and project.calls == 0

    project.write("list.txt", "a.rs\nb.rs\nc.rs\n")
    again = project.build()
    assert again.ran == {"files", "each", "count"}
    assert project.prompts() == ["Describe c.rs\n"]
    assert again.step("each")["reason"] == "1 of 3 items ran"


def test_removing_an_item_asks_nothing_and_putting_it_back_is_free(project):
    project.workflow(EACH)
    project.write("list.txt", "a.rs\nb.rs\n")
    project.build()
    project.server.reset()
    project.write("list.txt", "b.rs\n")
    fewer = project.build()
    assert fewer.step("each")["status"] == "ran"  # its output is new, so its dependents rerun
    assert fewer.step("each")["reason"] == "its items changed (1, every one cached)"
    assert fewer.output == "1"
    project.write("list.txt", "a.rs\nb.rs\n")
    assert project.build().step("each")["reason"] == "its items changed (2, every one cached)"
    assert project.build().step("each")["status"] == "cached"
    assert project.calls == 0


def test_zero_items_is_success(project):
    project.workflow(EACH)
    project.write("list.txt", "")
    built = project.build()
    assert built.status == {"files": "ran", "each": "ran", "count": "ran"}
    assert built.step("each")["reason"] == "no items"
    assert project.calls == 0
    assert built.output == "0"
    again = project.build()
    assert again.ran == set() and again.step("each")["status"] == "cached"


def test_an_item_list_that_empties_reruns_what_reads_it(project):
    project.workflow(EACH)
    project.write("list.txt", "a.rs\n")
    project.build()
    project.write("list.txt", "")
    emptied = project.build()
    assert emptied.step("each")["reason"] == "no items now"
    assert emptied.ran == {"files", "each", "count"} and emptied.output == "0"


def test_a_saved_for_each_output_follows_its_items(project):
    project.workflow("""
        workflow w "one line per item, saved"

        arg n = "2" "how many items"

        shell each > "out.txt" [for_each = "range(n | int) | list"]:
            echo item-{{ item }}
        """)
    project.build()
    assert project.read("out.txt") == "item-0\nitem-1\n"
    project.build("n=3")
    assert project.read("out.txt") == "item-0\nitem-1\nitem-2\n"
    project.build("n=1")
    assert project.read("out.txt") == "item-0\n"
    assert not (project.root / "out.txt.orig").exists()  # muxc's own file is never taken for an edit


# --- args, version, salt, cache policies ----------------------------------------------------


ARGS = """
    workflow w "a translation"

    arg lang = "en" "the language"

    shell text [inputs = ["text.txt"]]:
        echo text >> "$COUNTER"
        cat text.txt

    query translate @analyzer:
        Translate to {{ lang }}: {{ text }}
    """


def test_switching_an_arg_back_costs_nothing(project):
    project.workflow(ARGS)
    project.write("text.txt", "hello\n")
    project.build()
    project.build("lang=fr")
    assert project.prompts() == ["Translate to en: hello\n", "Translate to fr: hello\n"]
    back = project.build("lang=en")
    assert back.cached == {"text", "translate"}
    assert project.build("lang=fr").cached == {"text", "translate"}
    assert project.calls == 2 and project.ran() == ["text"]


def test_a_step_version_reruns_that_step_deliberately(project):
    project.workflow(ARGS)
    project.write("text.txt", "hello\n")
    project.build()
    project.workflow(ARGS.replace("query translate @analyzer:", "query translate @analyzer [version = 2]:"))
    again = project.build()
    assert again.ran == {"translate"} and again.cached == {"text"}
    assert again.step("translate")["reason"] == "its definition changed (version)"
    assert project.calls == 2


def test_the_cache_salt_in_the_config_invalidates_every_step(project):
    project.workflow(ARGS)
    project.write("text.txt", "hello\n")
    project.build()
    project.config('[cache]\nsalt = "2024-06"\n')
    again = project.build()
    assert again.ran == {"text", "translate"}
    assert again.step("translate")["reason"] == "the cache salt changed"
    assert project.ran() == ["text", "text"] and project.calls == 2
    assert project.build().ran == set()


def test_cache_never_reruns_every_build(project):
    project.workflow("""
        workflow w "a clock"

        shell now [cache = "never"]:
            echo now >> "$COUNTER"
            echo tick

        query say @analyzer:
            Say {{ now }}
        """)
    for build in range(3):
        built = project.build()
        assert built.step("now")["status"] == "ran"
        assert built.step("now")["reason"] == ("never built" if build == 0 else 'never reused (cache = "never")')
        assert built.step("say")["status"] in ("ran", "cached")
    assert project.ran() == ["now", "now", "now"]
    assert project.calls == 1  # its output never changed


@pytest.mark.slow
def test_a_cache_duration_expires(project):
    project.workflow("""
        workflow w "a short-lived result"

        shell fresh [cache = "1s"]:
            echo fresh >> "$COUNTER"
            echo value
        """)
    project.build()
    assert project.build().cached == {"fresh"}
    import time

    time.sleep(1.1)
    built = project.build()
    assert built.ran == {"fresh"}
    assert built.step("fresh")["reason"] == "its cached result expired"
    assert project.ran() == ["fresh", "fresh"]


def test_a_line_holding_only_a_jinja_comment_is_not_sent(project):
    project.workflow("""
        workflow w "a commented prompt"

        query ask @analyzer:
            First line.
            {# a note for whoever edits this prompt #}
            Second line. {# kept out too #}
        """)
    project.build()
    assert project.prompts() == ["First line.\nSecond line. \n"]


def test_forget_a_for_each_step_reruns_every_item(project):
    project.workflow(EACH)
    project.write("list.txt", "a.rs\nb.rs\n")
    project.build()
    project.server.reset()
    result = project.cli("forget", "w", "each")
    assert "each: forgot 2 cached results" in result.stderr
    again = project.build()
    assert again.step("each")["reason"] == "2 of 2 items ran"
    assert sorted(project.prompts()) == ["Describe a.rs\n", "Describe b.rs\n"]


def test_a_failed_item_is_the_only_one_that_runs_again(project, tmp_path, monkeypatch):
    monkeypatch.setenv("FLAGS", str(tmp_path))
    project.workflow("""
        workflow w "one item fails"

        shell each [for_each = "['a', 'b', 'c']"]:
            echo {{ item }} >> "$COUNTER"
            if [ {{ item }} = b ] && ! [ -e "$FLAGS/fixed" ]; then echo "b is broken" >&2; exit 1; fi
            echo done {{ item }}
        """)
    failed = project.build(code=1)
    assert failed.step("each")["error"] == "1 of 3 items failed; the first: the command exited with code 1"
    assert sorted(project.ran()) == ["a", "b", "c"]
    (tmp_path / "fixed").touch()
    again = project.build()
    assert again.step("each")["reason"] == "1 of 3 items ran"
    assert project.ran() == ["b"]
    assert again.output == "done a\ndone b\ndone c"
