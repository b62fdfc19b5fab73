"""Values land intact in shell commands wherever they sit, and LLM output never runs as code.

Values reach the shell as data (environment variables the command refers to). Each step writes
what the shell received to a file outside the project, so the bytes are compared exactly (a
step's output is trimmed). The generated version of these tests is
``test_shell_values_property.py``; here are the shapes a user writes, built end to end."""

from __future__ import annotations

import pytest

from tests.support.llm_server import Reply

NASTY = [
    pytest.param("two words", id="spaces"),
    pytest.param("it's \"quoted\" and 'single'", id="quotes"),
    pytest.param("$HOME ${PATH} $(echo subst) `echo tick`", id="dollars-and-backticks"),
    pytest.param("first line\nsecond line\n\nlast\\nnot a newline", id="newlines-and-backslashes"),
    pytest.param("tab\there; rm -rf / # & | > < * ? [a] ~ !", id="metacharacters"),
    pytest.param("EOF\n'EOF'\nend\nEND-OF\nEND", id="heredoc-words"),
    pytest.param("https://x/y#frag\x01\u202e💥", id="hash-and-unicode"),
]

CONTEXTS = """
    workflow w "one value in every position of a command"

    arg v required "the value"

    shell bare:
        printf '%s' {{ v }} > "$OUT/bare"

    shell double:
        printf '%s' "{{ v }}" > "$OUT/double"

    shell single:
        printf '%s' '{{ v }}' > "$OUT/single"

    shell mixed:
        printf '%s' "<{{ v }}>"'<{{ v }}>'+{{ v }}+ > "$OUT/mixed"

    shell heredoc:
        cat > "$OUT/heredoc" <<END
        {{ v }}
        END

    shell heredoc_odd_delimiter:
        cat > "$OUT/heredoc_odd_delimiter" <<END-OF
        {{ v }} $(printf '%s' {{ v }})
        END-OF

    shell hash_after_value:
        printf '%s' https://x/{{ v }}#{{ v }} > "$OUT/hash_after_value"

    shell partial_escape:
        printf '%s' {{ "<" ~ (v | shell_escape) }} > "$OUT/partial_escape"

    shell escape_in_double:
        printf '%s' "title: {{ v | shell_escape }}" > "$OUT/escape_in_double"

    shell quotes_in_one_branch:
        printf '%s' {% if v %}"{% endif %}{{ v }}{% if v %}"{% endif %} > "$OUT/quotes_in_one_branch"

    shell parameter_default:
        printf '%s' "${UNSET_IN_TESTS:-{{ v }}}" > "$OUT/parameter_default"

    shell escaped:
        printf '%s' {{ v | shell_escape }} > "$OUT/escaped"

    shell joined:
        printf '%s' {{ v ~ "+" ~ v }} > "$OUT/joined"

    shell substituted:
        printf '%s' "$(printf '%s' {{ v }})" > "$OUT/substituted"

    shell substituted_quoted:
        printf '%s' "$(printf '%s' "{{ v }}" | cat)" > "$OUT/substituted_quoted"

    shell backticks:
        printf '%s' "`printf '%s' {{ v }}`" > "$OUT/backticks"

    shell backticks_quoted:
        printf '%s' "`printf '%s' "<{{ v }}>"`" > "$OUT/backticks_quoted"
    """


@pytest.fixture
def out(tmp_path, monkeypatch):
    directory = tmp_path / "out"
    directory.mkdir()
    monkeypatch.setenv("OUT", str(directory))
    return directory


@pytest.mark.parametrize("value", NASTY)
def test_a_value_lands_intact_in_every_position(project, out, value):
    project.workflow(CONTEXTS)
    project.build(f"v={value}")
    got = {path.name: path.read_bytes().decode() for path in out.iterdir()}
    assert got == {
        "bare": value,
        "double": value,
        "single": value,
        "mixed": f"<{value}><{value}>+{value}+",
        "heredoc": value + "\n",
        "heredoc_odd_delimiter": f"{value} {value.rstrip(chr(10))}\n",
        "hash_after_value": f"https://x/{value}#{value}",
        "partial_escape": "<" + value,
        "escape_in_double": "title: " + value,
        "quotes_in_one_branch": value,
        "parameter_default": value,
        "escaped": value,
        "joined": f"{value}+{value}",
        "substituted": value,
        "substituted_quoted": value,
        "backticks": value,
        "backticks_quoted": f"<{value}>",
    }


def test_llm_output_is_data_never_code(project, out):
    answer = "'; touch pwned1; echo ' \"$(touch pwned2)\" `touch pwned3` $(touch pwned4)"
    project.server.script(Reply(text=answer))
    project.workflow("""
        workflow w "an answer fed to the shell"

        query ask @analyzer:
            Say something.

        shell use:
            printf '%s' {{ ask }} > "$OUT/bare"
            printf '%s' "{{ ask }}" > "$OUT/double"
            printf '%s' '{{ ask }}' > "$OUT/single"
            cat > "$OUT/heredoc" <<EOF
            {{ ask }}
            EOF
        """)
    project.build()
    assert not [path.name for path in project.root.iterdir() if path.name.startswith("pwned")]
    assert {path.name: path.read_text() for path in out.iterdir()} == {
        "bare": answer, "double": answer, "single": answer, "heredoc": answer + "\n"}


@pytest.mark.parametrize(("command", "where"), [
    ("cat <<'END'\n    {{ v }}\n    END", "the body of a quoted heredoc"),
    ("cat <<\\END\n    {{ v }}\n    END", "the body of a quoted heredoc"),
    ("echo start  # note: {{ v }}", "a shell comment"),
    ("echo $(( {{ v }} + 1 ))", "shell arithmetic"),
    ("cat <<EOF\n    {{- v }}\n    EOF", "a heredoc's delimiter"),
], ids=["quoted-heredoc", "backslash-heredoc", "comment", "arithmetic", "pulled-onto-the-heredoc-line"])
def test_a_value_where_no_reference_works_is_refused_before_anything_runs(project, out, command, where):
    command = command.replace("\n    ", "\n            ")  # the step body's indentation below
    project.workflow(f"""
        workflow w "a value where the shell cannot take it as data"

        arg v = "x; touch pwned" "the value"

        shell first:
            touch "$OUT/first-ran"

        shell refused:
            {command}
        """)
    result = project.cli("check", "w")
    assert result.exit_code == 1
    assert "shell-value-unreachable" in result.stdout and where in result.stdout
    project.build(code=1)
    assert not list(out.iterdir()) and not (project.root / "pwned").exists()


def test_a_place_only_the_rendered_command_shows_is_refused_at_build_time(project, out):
    """`{% if %}` decides the heredoc's quoting: the check cannot see it, the build does."""
    project.workflow("""
        workflow w "quoting chosen by a condition"

        arg raw = "yes" "quote the heredoc"
        arg v = "$(touch pwned)" "the value"

        shell s:
            cat > "$OUT/s" <<{% if raw == "yes" %}'EOF'{% else %}EOF{% endif %}
            {{ v }}
            EOF
        """)
    built = project.build(code=1)
    assert "quoted heredoc" in built.error("s")
    assert not (project.root / "pwned").exists() and not (out / "s").exists()
    project.build("raw=no")
    assert (out / "s").read_text() == "$(touch pwned)\n"


def test_shell_escape_draws_a_note_and_raw_shell_a_warning(project, out):
    project.workflow("""
        workflow w "filters"

        arg v = "echo hi" "the value"

        shell s:
            printf '%s' {{ v | shell_escape }} > "$OUT/escaped"
            {{ v | raw_shell }} > "$OUT/raw"
        """)
    result = project.cli("check", "w", "--format", "concise")
    assert result.exit_code == 0
    assert "note[shell-escape-not-needed]" in result.stdout
    assert "warning[raw-shell-value]" in result.stdout
    project.build()
    assert (out / "escaped").read_text() == "echo hi"
    assert (out / "raw").read_text() == "hi\n"  # inlined: the shell ran it, as asked


def test_status_and_dry_run_show_the_values_not_the_variables(project, out):
    project.workflow("""
        workflow w "readable commands"

        arg v = "two words" "the value"

        shell s:
            printf '%s' {{ v }} "{{ v }}" > "$OUT/s"
        """)
    result = project.cli("build", "w", "--dry-run")
    assert "printf '%s' 'two words' \"two words\"" in result.stdout
    assert "MUXC_V" not in result.stdout + result.stderr
    project.build()
    built = project.build("v=other")
    assert built.ran == {"s"}, "a changed value reruns the step"
    assert project.build("v=other").cached == {"s"}


def test_a_verify_command_gets_its_values_as_data(project, out):
    """An apply step's verify is a shell command too: an LLM-chosen value in it stays data."""
    project.commit()
    project.server.script(Reply(text='{"file": "notes.txt", "content": "hello\\n"}'))
    project.workflow("""
        workflow w "verify with a value"

        arg check = "$(touch pwned)'; touch pwned2" "what verify prints"

        query edit @analyzer:
            Write notes.txt.

        apply write [source = "edit", verify = "printf '%s' {{ check }} > \\"$OUT/verify\\""]
        """)
    project.build()
    assert (out / "verify").read_text() == "$(touch pwned)'; touch pwned2"
    assert not (project.root / "pwned").exists() and not (project.root / "pwned2").exists()


def test_the_command_wrapper_passes_values_through(project, out):
    project.config('''
        [defaults]
        command_wrapper = "sh -c '{cmd}'"
        ''')
    project.workflow("""
        workflow w "a wrapped command"

        arg v = "it's $(touch pwned)" "the value"

        shell s:
            printf '%s' '{{ v }}' > "$OUT/s"
        """)
    project.build()
    assert (out / "s").read_text() == "it's $(touch pwned)"
    assert not (project.root / "pwned").exists()


def test_for_each_items_are_data(project, out):
    project.workflow("""
        workflow w "items from a command"

        shell list:
            printf '%s\\n' 'a; touch pwned' '$(touch pwned2)' "b'c"

        shell each [for_each = "list | lines"]:
            printf '%s\\n' {{ item }} >> "$OUT/items"
        """)
    project.build("-j", "1")
    assert sorted((out / "items").read_text().splitlines()) == sorted(["a; touch pwned", "$(touch pwned2)", "b'c"])
    assert not list(project.root.glob("pwned*"))


def test_a_value_with_a_nul_byte_fails_the_step_in_words(project, out):
    project.server.script(Reply(text="before\x00after"))
    project.workflow("""
        workflow w "a NUL from a model"

        query ask @analyzer:
            Say something.

        shell use:
            printf '%s' {{ ask }} > "$OUT/use"
        """)
    built = project.build(code=1)
    assert "NUL byte" in built.error("use")
    assert "internal" not in built.error("use").lower()


def test_a_large_upstream_output_reaches_the_command_whole(project, out):
    """200 KB of output is past the system's limit for one environment string."""
    project.workflow("""
        workflow w "a large value"

        shell big:
            python3 -c "print(('x' * 99 + '\\n') * 2000, end='')"

        shell count:
            printf '%s\\n' {{ big }} | wc -l > "$OUT/count"
        """)
    project.build()
    assert (out / "count").read_text().strip() == "2000"
