"""The world of the never-stale property test (``tests/run/test_never_stale.py``).

- ``Spec``: one workflow, as a value the test edits (commands, prompts, cosmetic spellings,
  heredoc spaces, versions, timeouts, ``for_each`` items, failing steps, the workflow's name and
  format, the backend's model), written out as ``.mux`` or TOML by ``workflow_text``.
- ``model_keys``: the test's own idea of each step's cache key, from what docs/caching.md says a
  key holds, computed independently of muxc: the step's definition and command or prompt (by
  variant: cosmetic spellings are not part of it), the values its templates read, exactly, the
  files it reads, the backend's model, the ``for_each`` item.
- ``Files``: what a step reads from disk, listed the way the docs describe it (``inputs`` globs,
  or the project's state: what git sees plus HEAD and the index entries, or a walk outside git;
  never ``.muxc/``, ``.llm-mux/``, saved outputs and their ``.orig`` copies, the workflow file,
  muxc's temporary files).
- ``run_build``: ``muxc build --output json`` in this process (click's CliRunner), with each
  step's output added to the JSON document, plus which shell steps really ran (``$COUNTER``) and
  which prompts reached the LLM server.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tests.support.llm_server import LLMServer, RecordedRequest, Reply

GIT = ("git", "-c", "user.name=muxc tests", "-c", "user.email=tests@muxc.invalid", "-c", "commit.gpgsign=false",
       "-c", "init.defaultBranch=main", "-c", "advice.detachedHead=false")

STEPS = ("probe", "whole", "envs", "here", "ask", "each", "summary")
SHELL_STEPS = ("probe", "whole", "envs", "here")
QUERY_STEPS = ("ask", "each", "summary")
KIND = {name: "shell" if name in SHELL_STEPS else "query" for name in STEPS}
READS = {"ask": ("probe",), "summary": ("ask", "whole", "envs", "here", "each")}

PROBE_COMMANDS = ("cat src/*.txt", "cat src/*.txt | cat", "cat src/*.txt | tr a-z A-Z")
WHOLE_COMMANDS = ("echo {mode}", "printf '%s\\n' {mode}")
ASK_PROMPTS = ("Review this:", "Audit this:")
EACH_PROMPTS = ("[each] {item}", "[each] {item} please")
VARIANTS = {"probe": len(PROBE_COMMANDS), "whole": len(WHOLE_COMMANDS), "ask": len(ASK_PROMPTS),
            "each": len(EACH_PROMPTS)}
COSMETIC = 3  # spellings per step that render the same key (0: plain)

MODES = ("a", "b", " a", "a b")
VARS = ("FUZZ_A", "FUZZ_B")
ENV_VALUES = ("1", "2", "two words", " 1", None)
ITEMS = ("x", "y", "z")
MODELS = ("m1", "m2")
TIMEOUTS = (None, "1m", "90s")


@dataclass(frozen=True)
class Spec:
    """The workflow and config, as the test edits them."""

    name: str = "w"
    fmt: str = "mux"  # mux | toml
    version: int | None = None  # the workflow's: labels it, reruns nothing
    variant: tuple[tuple[str, int], ...] = ()  # step -> command/prompt variant (0 when absent)
    cosmetic: tuple[tuple[str, int], ...] = ()  # step -> cosmetic spelling (0 when absent)
    versions: tuple[tuple[str, int], ...] = ()  # step -> `version` attribute
    timeouts: tuple[tuple[str, str], ...] = ()  # step -> `timeout` attribute
    probe_fails: bool = False  # `exit 3` after the probe's command
    heredoc_spaces: str = ""  # trailing spaces of a heredoc line: data, not layout
    items: tuple[str, ...] = ("x", "y")
    model: str = "m1"
    reads_project: bool = False  # the backend reads the project (as claude -p): queries read its state
    save_follows_mode: bool = True  # ask saves to out/ask-{{ mode }}.md

    def get(self, table: str, step: str, default: Any = None) -> Any:
        return dict(getattr(self, table)).get(step, default)

    def put(self, table: str, step: str, value: Any) -> Spec:
        entries = {**dict(getattr(self, table)), step: value}
        return replace(self, **{table: tuple(sorted((k, v) for k, v in entries.items() if v is not None))})

    def save_path(self, step: str, args: Mapping[str, str]) -> str | None:
        paths = {"probe": "out/probe.txt", "each": "out/each.md", "summary": "out/summary.md",
                 "ask": "out/ask-{mode}.md" if self.save_follows_mode else "out/ask.md"}
        path = paths.get(step)
        return None if path is None else path.format(mode=args["mode"]).strip()

    def save_template(self, step: str) -> str | None:
        path = self.save_path(step, {"mode": "\0"})
        return None if path is None else path.replace("\0", "{{ mode }}")


def _ref(expression: str, cosmetic: int) -> str:
    return "{{" + expression.replace(" ", "") + "}}" if cosmetic == 2 else "{{ " + expression + " }}"


def body(spec: Spec, step: str) -> str:
    """The step's command or prompt, exactly as written in the workflow (ends with one newline)."""
    variant, cos = spec.get("variant", step, 0), spec.get("cosmetic", step, 0)
    note = "{# a note #}" if cos == 1 else ""
    if step == "probe":
        command = ("{# the files #}" if cos == 2 else "") + PROBE_COMMANDS[variant] + note
        lines = ['echo probe >> "$COUNTER"', command] + (["exit 3"] if spec.probe_fails else [])
    elif step == "whole":
        lines = ['echo whole >> "$COUNTER"', WHOLE_COMMANDS[variant].format(mode=_ref("mode", cos)) + note,
                 "cat notes.md 2>/dev/null", "ls src 2>/dev/null | wc -l"]
    elif step == "envs":
        lines = ['echo envs >> "$COUNTER"', "echo " + " ".join((_ref('env.FUZZ_A | default("unset")', cos),
                                                             _ref('env[args.var] | default("unset")', cos),
                                                             _ref("workflow", cos))) + note]
    elif step == "here":
        lines = ['echo here >> "$COUNTER"', "cat <<EOF" + note, "x" + spec.heredoc_spaces, _ref("mode", cos), "EOF"]
    elif step == "ask":
        head = "[ask] " + ASK_PROMPTS[variant] + note + ("   \n\n" if cos == 1 else "")
        lines = [head, "", _ref("probe", cos)]
    elif step == "each":
        lines = [EACH_PROMPTS[variant].format(item=_ref("item", cos)) + note + ("  " if cos == 1 else "")]
    else:
        lines = ["[summary] " + _ref("mode", cos) + ("   " if cos == 1 else note),
                 *(_ref(name, cos) for name in READS["summary"])]
    return "\n".join(lines) + "\n"


def _attributes(spec: Spec, step: str) -> list[tuple[str, Any]]:
    attributes: list[tuple[str, Any]] = []
    if step == "probe":
        attributes.append(("inputs", ["src/*.txt"]))
    if step in ("envs", "here"):
        attributes.append(("inputs", []))
    if step == "each":
        attributes.append(("for_each", json.dumps(list(spec.items))))
    if step == "summary":
        attributes.append(("if", "args.flag == 'yes'"))
    if spec.get("timeouts", step) is not None:
        attributes.append(("timeout", spec.get("timeouts", step)))
    if spec.get("versions", step) is not None:
        attributes.append(("version", spec.get("versions", step)))
    return attributes


def _value(value: Any) -> str:
    """A TOML value (JSON's strings, lists and integers are TOML's too)."""
    return json.dumps(value)


ARGS = (("mode", "a", "a value"), ("var", "FUZZ_A", "the name of an environment variable"),
        ("flag", "yes", "whether to summarise"))
ROLE = {"ask": "analyzer", "each": "analyzer", "summary": "synthesizer"}


def workflow_text(spec: Spec) -> str:
    return _mux(spec) if spec.fmt == "mux" else _toml(spec)


def _mux(spec: Spec) -> str:
    version = f" [version = {spec.version}]" if spec.version is not None else ""
    out = [f'workflow {spec.name} "never stale"{version}', ""]
    out += [f"arg {name} = {_value(default)} {_value(text)}" for name, default, text in ARGS] + [""]
    for step in STEPS:
        head = f"{KIND[step]} {step}"
        if step in ROLE:
            head += f" @{ROLE[step]}"
        save = spec.save_template(step)
        if save is not None:
            head += f" > {_value(save)}"
        attributes = _attributes(spec, step)
        if attributes:
            head += " [" + ", ".join(f"{key} = {_value(value)}" for key, value in attributes) + "]"
        out.append(head + ":")
        out += ["    " + line if line.strip() else "" for line in body(spec, step).rstrip("\n").split("\n")]
        out.append("")
    return "\n".join(out)


def _toml(spec: Spec) -> str:
    out = [f"name = {_value(spec.name)}", 'description = "never stale"']
    if spec.version is not None:
        out.append(f"version = {spec.version}")
    for name, default, text in ARGS:
        out += ["", f"[args.{name}]", f"default = {_value(default)}", f"description = {_value(text)}"]
    for step in STEPS:
        out += ["", "[[steps]]", f"name = {_value(step)}", f"type = {_value(KIND[step])}"]
        if step in ROLE:
            out.append(f"role = {_value(ROLE[step])}")
        save = spec.save_template(step)
        if save is not None:
            out.append(f"save = {_value(save)}")
        out.append(f"{'run' if KIND[step] == 'shell' else 'prompt'} = {_value(body(spec, step))}")
        out += [f"{key} = {_value(value)}" for key, value in _attributes(spec, step)]
    return "\n".join(out) + "\n"


def config_text(spec: Spec, url: str) -> str:
    reads = "reads_project = true\n" if spec.reads_project else ""
    return (f'[backends.fake]\ncommand = "{url}"\nmodel = "{spec.model}"\n{reads}\n'
            '[roles.analyzer]\nbackends = ["fake"]\n\n[roles.synthesizer]\nbackends = ["fake"]\n')


# -- the LLM ------------------------------------------------------------------------------------


def cosmetic_free(text: str) -> str:
    """A prompt without what docs/caching.md calls cosmetic: trailing spaces, runs of blank lines,
    surrounding blank space, CRLF (the test's own spelling of the rule, not muxc's)."""
    lines = [line.rstrip(" \t") for line in text.replace("\r\n", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def answer(request: RecordedRequest) -> Reply:
    """The fake LLM: a function of the model and of the prompt as the key sees it (a cosmetic edit
    changes no key, so it must not change the answer either)."""
    model = request.body.get("model") if isinstance(request.body, dict) else None
    return Reply(text=f"answer ({model}) to: " + cosmetic_free(request.prompt))


def asked(request: RecordedRequest) -> tuple[str, str | None]:
    """(step, item) of a prompt: each starts with its step's tag ("[each] x ...")."""
    words = request.prompt.split()
    step = words[0].strip("[]") if words else "?"
    return step, (words[1] if step == "each" and len(words) > 1 else None)


# -- what steps read from disk ------------------------------------------------------------------


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def git(root: Path, *args: str, check: bool = True) -> str:
    done = subprocess.run([*GIT, *args], cwd=root, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
    return done.stdout


SKIP_DIRS = {"node_modules", "target", "build", "dist", "__pycache__", "venv", ".venv"}


@dataclass
class Files:
    """The files a build reads, as the docs define them (computed by the test, not by muxc)."""

    project: dict[str, str]
    inputs: dict[str, str]  # src/*.txt

    @classmethod
    def read(cls, root: Path, in_git: bool, never: set[str], workflow_file: str) -> Files:
        if in_git:
            listed = git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
            names = {name for name in listed.split("\0") if name}
        else:
            names = set()
            for directory, dirs, files in os.walk(root):
                dirs[:] = [d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS]
                base = Path(directory).relative_to(root)
                names.update((base / name).as_posix() for name in files)
        project = {}
        for name in sorted(names):
            if name.startswith((".muxc/", ".llm-mux/")) or name == workflow_file or _saved_or_copy(name, never) \
                    or name.rsplit("/", 1)[-1].startswith(".muxc-tmp."):
                continue
            path = root / name
            if path.is_file() and not path.is_symlink():
                project[name] = _digest(path.read_bytes())
        if in_git:
            head = git(root, "rev-parse", "--verify", "-q", "HEAD", check=False).strip() or "none"
            project[":HEAD"] = head
            project[":index"] = _digest(git(root, "ls-files", "-s", "-z").encode())
        inputs = {p.relative_to(root).as_posix(): _digest(p.read_bytes())
                  for p in sorted((root / "src").glob("*.txt")) if p.is_file()}
        return cls(project, inputs)


def _saved_or_copy(name: str, saved: set[str]) -> bool:
    return name in saved or any(name.startswith(path + ".orig") for path in saved)


# -- keys -----------------------------------------------------------------------------------------


def env_value(environ: Mapping[str, str], name: str) -> str:
    """What `{{ env.NAME | default("unset") }}` renders (muxc's `default` also replaces "")."""
    return environ.get(name) or "unset"


def model_keys(spec: Spec, args: Mapping[str, str], environ: Mapping[str, str], files: Files,
               outputs: Mapping[str, str | None]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(step -> key, item -> key) for what this state asks of each step, from the docs' rule book.

    ``outputs`` are the upstream outputs (None: the step produced none, so nothing reading it runs).
    A key holds the definition (kind, the command or prompt *variant*, `inputs`, `version`, the
    failing `exit`: not timeout, save, if, for_each, the workflow's name or version), the values
    the template reads, exactly, the files read and, for a query, the backend's model."""
    def definition(step: str) -> tuple[Any, ...]:
        return (step, KIND[step], spec.get("variant", step, 0), spec.get("versions", step))

    backend = (spec.model, spec.reads_project)
    project = tuple(sorted(files.project.items()))
    reads = project if spec.reads_project else None
    mode = args["mode"]
    keys: dict[str, Any] = {
        "probe": (definition("probe"), spec.probe_fails, tuple(sorted(files.inputs.items()))),
        "whole": (definition("whole"), (mode,), project),
        "envs": (definition("envs"), (env_value(environ, "FUZZ_A"), env_value(environ, args["var"]), spec.name)),
        "here": (definition("here"), spec.heredoc_spaces, (mode,)),
    }
    if outputs.get("probe") is not None:
        keys["ask"] = (definition("ask"), backend, (outputs["probe"],), reads)
    items = {item: (definition("each"), backend, (item,), item, reads) for item in spec.items}
    upstream = [outputs.get(name) for name in READS["summary"]]
    if args["flag"] == "yes" and all(value is not None for value in upstream):
        keys["summary"] = (definition("summary"), backend, (mode, *upstream), reads)
    return keys, items


# -- building -----------------------------------------------------------------------------------


@dataclass
class Outcome:
    """One build: the JSON document (with each step's output), what ran, its stderr."""

    code: int
    doc: dict[str, Any]
    stderr: str
    shell_ran: list[str] = field(default_factory=list)  # $COUNTER lines
    asked: list[tuple[str, str | None]] = field(default_factory=list)  # (step, item) per LLM call
    fast: bool = False  # answered by the no-op fast path (muxc.app.fastpath), the engine never loaded

    def step(self, name: str) -> dict[str, Any]:
        return next(step for step in self.doc["steps"] if step["name"] == name)

    def status(self, name: str) -> str:
        return self.step(name)["status"]

    def output(self, name: str) -> str | None:
        return self.step(name)["output"]

    def klass(self, name: str) -> str:
        status = self.status(name)
        return "ok" if status in ("ran", "cached") else status

    def executed(self, name: str) -> int:
        if KIND[name] == "shell":
            return self.shell_ran.count(name)
        return sum(1 for step, _ in self.asked if step == name)


def _with_outputs(original: Any) -> Any:
    def as_json(build: Any, code: int) -> dict[str, Any]:
        from muxc.run.scope import view_of

        doc = original(build, code)
        for step in doc["steps"]:
            ok = build.state(step["name"]).status in ("ran", "cached")
            step["output"] = view_of(build, step["name"]).output if ok else None
        return doc

    return as_json


def run_build(root: Path, workflow: str, args: Iterable[str], server: LLMServer, counter: Path) -> Outcome:
    """``muxc build WORKFLOW ARGS --keep-going --output json`` in ``root``, in this process.

    The build runs on a worker thread, where muxc installs no signal handler: Ctrl-C or a kill
    stops the test run as usual instead of cancelling one build (which would look like a stale
    result). Interrupted builds are the state machine's own rule, in a child process."""
    import threading

    from click.testing import CliRunner, Result

    import muxc.ui.summary as summary
    from muxc.app import fastpath
    from muxc.cli import main

    before = len(server.completions)
    counter.unlink(missing_ok=True)
    original, here, noop = summary.as_json, os.getcwd(), fastpath.noop_build
    summary.as_json = _with_outputs(original)
    answered: list[bool] = []

    def spy(*args: Any, **kwargs: Any) -> Any:  # the real fast path, watched
        found = noop(*args, **kwargs)
        answered.append(found is not None)
        return found

    fastpath.noop_build = spy
    os.chdir(root)  # team detection and the plan cache use the working directory
    done: list[Result | BaseException] = []

    def invoke() -> None:
        try:
            done.append(CliRunner().invoke(main, ["build", workflow, *args, "--keep-going", "--output", "json"],
                                           catch_exceptions=False))
        except BaseException as error:
            done.append(error)

    try:
        worker = threading.Thread(target=invoke, name="muxc-build", daemon=True)
        worker.start()
        worker.join()
    finally:
        os.chdir(here)
        summary.as_json = original
        fastpath.noop_build = noop
    result = done[0]
    if isinstance(result, BaseException):
        raise result
    assert result.stdout.strip(), f"no JSON document (exit {result.exit_code}): {result.stderr}"
    ran = counter.read_text().split() if counter.exists() else []
    counter.unlink(missing_ok=True)
    return Outcome(result.exit_code, json.loads(result.stdout), result.stderr, ran,
                   [asked(request) for request in server.completions[before:]], any(answered))


def content_of(output: str) -> bytes:
    """The bytes of a saved file holding ``output`` (docs: the output, ending with a newline)."""
    return (output if output.endswith("\n") or not output else output + "\n").encode()
