"""Every diagnostic code muxc emits, with its explanation, a bad example and the fix.

Codes are stable: never rename or reuse one. ``muxc explain CODE`` prints an entry;
``docs/diagnostics.md`` is generated from this table (``python -m muxc.docgen``).
"""

from __future__ import annotations

from muxc.diagnostics.codes import Code
from muxc.diagnostics.model import Severity

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
    Code("invalid-duration", E, "A duration muxc cannot read",
         "Durations are integers in the field's unit (milliseconds for step and workflow timeouts, seconds for "
         "backend timeouts) or strings with a unit: 250ms, 30s, 5m, 2h, 7d.",
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
)
