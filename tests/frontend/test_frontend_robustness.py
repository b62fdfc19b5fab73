"""Never a traceback: whatever the input, the front-ends and the checker answer with diagnostics.

Hypothesis feeds arbitrary text, arbitrary bytes (through a file, as `muxc check` reads it) and
mutations of valid workflows (characters deleted, duplicated, inserted) to both front-ends and
the checker. Every answer must be diagnostics whose spans lie inside the text and that render in
every format; a workflow the front-end accepts must come back from `muxc fmt` (in either
format) as text that parses again to the same workflow. Then explicit edge cases: empty and
blank files, bytes that are not UTF-8, a 10 MB file, a file over the size limit, and nesting
deep enough to exhaust Python's stack.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from muxc.app.api import Project, check_paths
from muxc.check import check
from muxc.config.defaults import builtin_config
from muxc.config.schema import (
    BackendConfig,
    Budget,
    CacheConfig,
    Defaults,
    EcosystemConfig,
    RoleConfig,
    TeamConfig,
)
from muxc.diagnostics.render import render
from muxc.diagnostics.sink import DiagnosticSink
from muxc.diagnostics.source import SourceFile
from muxc.syntax import parse_workflow
from muxc.syntax.emit_mux import emit_mux
from muxc.syntax.emit_toml import emit_toml
from tests.frontend.support import CASES, ROUNDTRIP, SEEDS, diagnostics
from tests.frontend.test_frontend_roundtrip import meaning

CONFIG = builtin_config()
FORMATS = ("full", "concise", "json", "github")
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run_pipeline(text: str, fmt: str) -> DiagnosticSink:
    """Parse and check ``text`` as ``muxc check`` does; assert the answer is well-formed."""
    sink = DiagnosticSink()
    workflow = parse_workflow(text, f"fuzz.{fmt}", sink, fmt=fmt)
    formattable = workflow is not None and not sink.has_errors  # what `muxc fmt` accepts
    checked = check(workflow, CONFIG, sink) if workflow is not None else None
    if workflow is not None:
        assert (checked is None) <= sink.has_errors  # None means an error was reported
        assert checked is not None or sink.has_errors
    for diagnostic in sink:
        for label in diagnostic.labels:
            assert 0 <= label.span.start <= label.span.end <= len(text) + 1, diagnostic
    sources = {f"fuzz.{fmt}": SourceFile(f"fuzz.{fmt}", text)}
    for output in FORMATS:
        render(output, sink.sorted(), sources)
    if formattable:
        assert_fmt_reads_back(workflow, fmt)
    return sink


def assert_fmt_reads_back(workflow, fmt: str) -> None:
    for target, emit in (("mux", emit_mux), ("toml", emit_toml)):
        text = emit(workflow)
        sink = DiagnosticSink()
        again = parse_workflow(text, f"fmt.{target}", sink, fmt=target)
        assert again is not None and not sink.has_errors, (target, text, list(sink))
        assert meaning(again) == meaning(workflow), (target, text)


def valid_workflows() -> list[tuple[str, str]]:
    files = [*ROUNDTRIP.glob("*.*"), *SEEDS.glob("workflows/*.toml"), CASES / "dependency-cycle-three-steps.toml",
             CASES / "unknown-step-in-template.mux", CASES / "ambiguous-name.mux"]
    return [(path.read_text(encoding="utf-8"), path.suffix[1:]) for path in sorted(files)]


VALID = valid_workflows()
INTERESTING = st.sampled_from([*'{}[]()"\'\\\n\t :=#%|@>,.-_', "{{", "}}", "{%", "%}", '"""', "'''", "\r\n", "é",
                               "🦀", "\x00", "\ufeff"])


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str]:
    text, fmt = draw(st.sampled_from(VALID))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(("delete", "duplicate", "insert")))
        if kind == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 12)):]
        elif kind == "duplicate":
            end = at + draw(st.integers(1, 40))
            text = text[:end] + text[at:end] + text[end:]
        else:
            text = text[:at] + draw(st.one_of(INTERESTING, st.text(max_size=3))) + text[at:]
    return text, fmt


@FUZZ
@given(text=st.text(), fmt=st.sampled_from(("toml", "mux")))
@example(text="", fmt="mux")
@example(text="workflow w\nshell a:\n\tx\n  y\n", fmt="mux")
@example(text='name = "x"\n[[steps]]\nname = "a"\ntype = "shell"\nrun = "{{ (((x) }}"\n', fmt="toml")
def test_arbitrary_text_gives_only_diagnostics(text: str, fmt: str) -> None:
    run_pipeline(text, fmt)


@FUZZ
@given(case=mutated())
def test_mutated_workflows_give_only_diagnostics(case: tuple[str, str]) -> None:
    run_pipeline(*case)


VALID_WITH_BYTES = st.builds(lambda valid, tail: valid[0].encode() + tail, st.sampled_from(VALID), st.binary(max_size=8))


@FUZZ
@given(data=st.binary(max_size=300) | VALID_WITH_BYTES, suffix=st.sampled_from((".toml", ".mux")))
def test_arbitrary_bytes_in_a_file_give_only_diagnostics(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"fuzz{suffix}"
        path.write_bytes(data)
        report = check_paths(Project(Path(directory), {"HOME": directory}), [path])
        for output in FORMATS:
            render(output, report.diagnostics, report.sources)


# Workflows generated from the DSL's own shapes: every statement kind, header clauses, attributes
# of every type, the three body forms, and templates mixing good and bad references, so most
# parse and many reach the checker and `muxc fmt` (about a third are formattable).
NAMES = st.sampled_from(["a", "b", "diff", "x-y", "item", "steps", "base"])
TEMPLATE_BITS = st.one_of(
    NAMES.map(lambda n: f"{{{{ {n} }}}}"),
    st.tuples(NAMES, st.sampled_from(["output", "json.k", "outptu", "failed"])).map(
        lambda t: f"{{{{ steps.{t[0]}.{t[1]} }}}}"),
    NAMES.map(lambda n: f"{{{{ args.{n} }}}}"),
    st.sampled_from(["{{ item }}", "{{ env.HOME }}", "{{ team.verfy }}", "{% if a is defined %}y{% endif %}",
                     "{{ b | default('z') }}", "{% for l in a | lines %}{{ l }}{% endfor %}", "{{ a | shel }}",
                     "{{", "}}", "{%", "| grep x", "\\", "'", '"', "#", "é", "\t"]),
    st.text(alphabet="abc xyz:=-\n", max_size=10),
)
TEXT = st.lists(TEMPLATE_BITS, max_size=5).map("".join)


def quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


VALUES = st.one_of(TEXT.map(quoted), st.integers(-5, 200_000).map(str), st.sampled_from(["true", "false"]),
                   st.lists(NAMES.map(quoted), max_size=3).map(lambda items: "[" + ", ".join(items) + "]"),
                   st.just('{type = "array", items = {type = "string"}}'))
ATTRS = st.lists(st.tuples(st.sampled_from(["timeout", "depends_on", "if", "for_each", "inputs", "cache", "params",
                                            "output_schema", "verify_retries", "system", "options", "role"]),
                           VALUES), max_size=3, unique_by=lambda attr: attr[0])


@st.composite
def dsl_step(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["shell", "query", "apply", "store", "input"]))
    header = f"{kind} {draw(NAMES) if draw(st.booleans()) else quoted(draw(NAMES))}"
    if kind == "query" and draw(st.booleans()):
        header += " @" + draw(st.sampled_from(["analyzer", "nope", "r"]))
    header += " from " + draw(NAMES) if kind == "apply" else ""
    header += " > " + quoted(draw(TEXT)) if draw(st.booleans()) else ""
    attrs = draw(ATTRS)
    header += " [" + ", ".join(f"{k} = {v}" for k, v in attrs) + "]" if attrs else ""
    body = draw(TEXT)
    form = draw(st.sampled_from(["block", "line", "string"]))
    if kind == "apply":
        return header + "\n"
    if form == "block" and body.strip():
        return header + ":\n" + "".join(f"    {line}\n" for line in body.split("\n"))
    if form == "line" and body.strip() and "\n" not in body and not body.strip().startswith("#"):
        return f"{header}: {body}\n"
    return f"{header} = {quoted(body)}\n"


@st.composite
def dsl_workflow(draw: st.DrawFn) -> str:
    lines = [f"workflow {draw(NAMES)} {quoted(draw(TEXT))}\n"]
    for name in draw(st.lists(NAMES, max_size=2, unique=True)):
        lines.append(f"arg {name}" + (f" = {quoted(draw(TEXT))}" if draw(st.booleans()) else "") + "\n")
    lines += ['role r [backends = ["local"], execution = "parallel"]\n'] if draw(st.booleans()) else []
    for _ in range(draw(st.integers(0, 5))):
        lines += ["# a comment\n"] if draw(st.booleans()) else []
        lines.append(draw(dsl_step()))
    return "".join(lines)


@settings(FUZZ, max_examples=100)
@given(text=dsl_workflow())
def test_generated_dsl_workflows_give_only_diagnostics_and_format_losslessly(text: str) -> None:
    run_pipeline(text, "mux")


CONFIG_SECTIONS = {"backends": BackendConfig, "roles": RoleConfig, "teams": TeamConfig, "ecosystems": EcosystemConfig,
                   "defaults": Defaults, "budget": Budget, "cache": CacheConfig}
CONFIG_VALUES = st.sampled_from(['"claude"', '"http://localhost"', '"${X}"', '"${Y:-d}"', "-1", "0", "300", "1.5", "true",
                                 '["claude", "local"]', "[]", '[["K", "V"]]', '{a = "b"}', '"parallel"', '"5m"',
                                 "1979-05-27", '{input = 1, output = "x"}', '{start = "echo", port = "x"}',
                                 '{analyzer = {backends = ["nope"]}}'])


@st.composite
def config_section(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from([*CONFIG_SECTIONS, "bogus"]))
    cls = CONFIG_SECTIONS.get(kind, Defaults)
    named = kind in ("backends", "roles", "teams", "ecosystems")
    lines = [f"[{kind}.{draw(st.sampled_from(['claude', 'local', 'x']))}]" if named else f"[{kind}]"]
    fields = [f.encode_name for f in msgspec.structs.fields(cls) if f.name not in ("origin", "name")]
    for key in draw(st.lists(st.sampled_from([*fields, "bogus"]), unique=True, max_size=5)):
        lines.append(f"{key} = {draw(CONFIG_VALUES)}")
    return "\n".join(lines) + "\n"


@settings(FUZZ, max_examples=100)
@given(sections=st.lists(config_section(), max_size=5))
@example(sections=['[backends.claude]\nprice = {input = 1.0}\nmanaged = {start = "echo"}\n'])  # once a TypeError
def test_generated_project_configs_give_only_diagnostics(sections: list[str]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / ".muxc").mkdir()
        (root / ".muxc" / "config.toml").write_text("\n".join(sections))
        (root / "w.mux").write_text('workflow w\nrole r [backends = ["claude"]]\nquery a @analyzer: hi\nquery b @r: hi\n')
        report = check_paths(Project(root, {"HOME": directory}), [root / "w.mux"])
        for output in FORMATS:
            render(output, report.diagnostics, report.sources)


# --- explicit edge cases -------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"   \n\t\n", b"\xef\xbb\xbf", b"\n\n\n"], ids=["empty", "blank", "bom",
                                                                                        "newlines"])
@pytest.mark.parametrize("suffix", [".toml", ".mux"])
def test_an_empty_or_blank_file_is_one_empty_file_error(content: bytes, suffix: str, muxc, project: Path) -> None:
    (project / f"w{suffix}").write_bytes(content)
    result = muxc("check", "--format", "concise", f"w{suffix}", cwd=project)
    assert result.exit_code == 1
    assert result.stdout == (f"w{suffix}:1:1: error[empty-file]: w{suffix} is empty (help: start with "
                             '`workflow NAME "what it does"` (or name = "..." in TOML) and add steps)\n')


@pytest.mark.parametrize("data, byte", [
    (b'workflow caf\xe9 "latin-1"\nshell a: echo\n', "0xe9"),
    ('workflow w "ok"\nshell a: echo ü\n'.encode("utf-16"), "0xff"),
    (b'name = "x"\n\x80', "0x80"),
], ids=["latin1", "utf16", "stray-continuation-byte"])
def test_bytes_that_are_not_utf8_are_reported_at_the_first_bad_byte(data: bytes, byte: str, muxc, project) -> None:
    (project / "w.mux").write_bytes(data)
    result = muxc("check", "--format", "json", "w.mux", cwd=project)
    [diagnostic] = diagnostics(result)
    assert diagnostic["code"] == "invalid-utf8"
    assert byte in diagnostic["message"]
    good = data[: data.index(bytes([int(byte, 16)]))].decode()
    assert (diagnostic["line"], diagnostic["column"]) == (good.count("\n") + 1, len(good) - good.rfind("\n"))


@pytest.mark.slow
def test_a_10_mb_workflow_is_checked_in_reasonable_time_with_a_precise_answer(muxc, project: Path) -> None:
    log = "".join(f"{i:>8} INFO request served in {i % 97} ms — ok\n" for i in range(230_000))
    text = ('name = "triage"\n\n[[steps]]\nname = "logs"\ntype = "shell"\nrun = "cat server.log"\n\n'
            '[[steps]]\nname = "triage"\ntype = "query"\nrole = "analyzer"\nprompt = """\n'
            f"Here is the log:\n{log}\nAnd the live tail: {{{{ steps.lgos.output }}}}\n\"\"\"\n")
    assert len(text.encode()) > 10_000_000
    (project / "triage.toml").write_text(text)
    started = time.monotonic()
    result = muxc("check", "--format", "concise", "triage.toml", cwd=project)
    assert time.monotonic() - started < 30
    at = text.index("lgos")
    line, column = text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)
    assert (line, column) == (230_015, 29)
    assert result.stdout == (f"triage.toml:{line}:{column}: error[unknown-step]: no step named `lgos` "
                             "(help: did you mean `logs`?)\n")


def test_a_file_over_16_mb_is_refused_without_reading_it(muxc, project: Path) -> None:
    path = project / "huge.toml"
    with path.open("wb") as handle:  # sparse: no 16 MB written
        handle.truncate(16 * 1024 * 1024 + 1)
    result = muxc("check", "--format", "concise", "huge.toml", cwd=project)
    assert result.exit_code == 1
    assert result.stdout == "huge.toml:1:1: error[file-too-large]: huge.toml is larger than 16 MB\n"


@pytest.mark.parametrize("template", [
    "{% if x %}" * 500 + "deep" + "{% endif %}" * 500,
    "{{ " + "(" * 10_000 + "x" + ")" * 10_000 + " }}",
    "{{ " + "[" * 3_000 + "]" * 3_000 + " }}",
    "{{ x" + " | trim" * 5_000 + " }}",
], ids=["if-500", "parens-10k", "lists-3k", "filters-5k"])
def test_templates_nested_beyond_the_stack_get_a_clear_diagnostic(template: str) -> None:
    text = f'workflow deep\narg x = "1"\nshell a = "{template}"\n'
    sink = run_pipeline(text, "mux")
    assert [(d.code, d.message) for d in sink] == [
        ("template-syntax", "template syntax error in `run`: the template is nested too deeply")]


@pytest.mark.parametrize("expression", ["(" * 10_000 + "x" + ")" * 10_000, "not " * 5_000 + "x"])
def test_an_if_expression_nested_beyond_the_stack_gets_a_clear_diagnostic(expression: str) -> None:
    text = f'name = "deep"\n[args.x]\n[[steps]]\nname = "a"\ntype = "shell"\nrun = "echo"\nif = "{expression}"\n'
    sink = run_pipeline(text, "toml")
    assert [d.code for d in sink] == ["template-syntax"]
    assert "nested too deeply" in next(iter(sink)).message


def test_values_nested_beyond_the_limit_get_a_clear_diagnostic_in_both_formats() -> None:
    mux = "workflow w\nquery a @analyzer [params = {x = " + "[" * 5_000 + "]" * 5_000 + "}]: hi\n"
    toml = 'name = "w"\n[[steps]]\nname = "a"\ntype = "query"\nrole = "analyzer"\nprompt = "hi"\n' \
           "params = {x = " + "[" * 5_000 + "]" * 5_000 + "}\n"
    assert [(d.code, d.message) for d in run_pipeline(mux, "mux")] == [
        ("mux-syntax", "values are nested too deeply (more than 97 levels)")]
    assert [(d.code, d.message) for d in run_pipeline(toml, "toml")] == [
        ("toml-syntax", "tables and values are nested too deeply (more than 100 levels)")]


def test_the_deepest_values_the_dsl_accepts_convert_to_toml_and_back() -> None:
    mux = "workflow w\nquery a @analyzer [params = {x = " + "[" * 96 + "]" * 96 + "}]: hi\n"
    assert list(run_pipeline(mux, "mux")) == []  # and run_pipeline checked that fmt reads back


@pytest.mark.parametrize("order", ["forward", "backward"])
def test_a_chain_longer_than_the_recursion_limit_checks_and_its_closing_cycle_is_found(order: str) -> None:
    n = 1_500  # sys.getrecursionlimit() is 1000
    deps = [(i, i - 1) if order == "forward" else (i, i + 1) for i in range(n)]
    lines = ["workflow chain"] + [f'shell s{i} [depends_on = ["s{j % n}"]]: echo' for i, j in deps]
    sink = run_pipeline("\n".join(lines) + "\n", "mux")
    [cycle] = list(sink)
    assert cycle.code == "dependency-cycle" and len(cycle.labels) == n
    lines[1] = "shell s0: echo" if order == "forward" else lines[1]
    lines[-1] = f"shell s{n - 1}: echo" if order == "backward" else lines[-1]
    assert list(run_pipeline("\n".join(lines) + "\n", "mux")) == []


def test_the_dsl_parses_for_a_user_without_a_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """In a container running as a uid with no passwd entry, getpass.getuser() raises; the DSL
    parser names its grammar cache after the user, and must then simply not cache."""
    import pwd

    from muxc.syntax import mux_lark

    def no_such_user(uid: int) -> object:
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    for variable in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(pwd, "getpwuid", no_such_user)
    mux_lark.lark.cache_clear()
    try:
        # Lark parses what has an error (here a misspelled step kind, which it reads on)
        assert [d.code for d in run_pipeline("workflow w\nshel a: echo\n", "mux")] == ["invalid-value"]
    finally:
        mux_lark.lark.cache_clear()
