"""Values land intact in shell commands wherever they sit, and LLM output never runs as code.

Each step writes what the shell received to a file outside the project, so the bytes are
compared exactly (a step's output is trimmed)."""

from __future__ import annotations

import pytest

from tests.support.llm_server import Reply

NASTY = [
    pytest.param("two words", id="spaces"),
    pytest.param("it's \"quoted\" and 'single'", id="quotes"),
    pytest.param("$HOME ${PATH} $(echo subst) `echo tick`", id="dollars-and-backticks"),
    pytest.param("first line\nsecond line\n\nlast\\nnot a newline", id="newlines-and-backslashes"),
    pytest.param("tab\there; rm -rf / # & | > < * ? [a] ~ !", id="metacharacters"),
    pytest.param("EOF\n'EOF'\nend", id="heredoc-words"),
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

    shell heredoc_raw:
        cat > "$OUT/heredoc_raw" <<'END'
        {{ v }}
        END

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
    got = {path.name: path.read_text() for path in out.iterdir()}
    assert got == {
        "bare": value,
        "double": value,
        "single": value,
        "mixed": f"<{value}><{value}>+{value}+",
        "heredoc": value + "\n",
        "heredoc_raw": value + "\n",
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


def test_a_value_in_a_comment_cannot_end_the_comment(project, out):
    project.workflow("""
        workflow w "a value in a comment"

        arg v required "the value"

        shell commented:
            echo start > "$OUT/log"  # note: {{ v }}
            echo end >> "$OUT/log"
        """)
    project.build("v=x\ntouch pwned")
    assert (out / "log").read_text() == "start\nend\n"
    assert not (project.root / "pwned").exists()
