"""Pass: every template checked against the typed context it will be rendered in.

Roots: ``steps``, ``args``, ``env``, ``team``, ``ecosystem``, ``memory``, ``workflow``, ``item``
(only in a ``for_each`` step), ``error``/``original``/``edits`` (only in ``verify_retry_prompt``),
and bare names, which mean an arg or a step's output (both at once is ambiguous). Step results
expose ``output``, ``outputs``, ``failed``, ``error``, ``skipped``, ``backend``, ``backends``,
``duration_ms`` and ``json`` (typed by the step's ``output_schema`` when it has one). Filters and
tests must exist. Every step a template reads becomes an edge of the dependency graph, and each
problem points at the exact name inside the file, however deep in a multi-line prompt.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from muxc.check.state import CheckState, Edge, Template
from muxc.diagnostics.span import Span
from muxc.lang import jinja as J
from muxc.lang.document import Array, Str
from muxc.lang.filters import DOCUMENTED_FILTERS as OUR_FILTERS
from muxc.lang.validate import did_you_mean
from muxc.syntax.ast import Step

STEP_FIELDS = ("output", "outputs", "failed", "error", "skipped", "backend", "backends", "duration_ms", "json")
ROOT_FIELDS = {
    "team": ("name", "description", "detect", "verify", "roles"),
    "ecosystem": ("name", "description", "knowledge", "projects", "current_project"),
    "memory": ("facts", "search", "entities", "relationships", "findings"),
}
ROOTS = ("steps", "args", "env", "team", "ecosystem", "memory", "workflow", "item")
RETRY_ROOTS = ("error", "original", "edits")


@cache
def known_filters() -> frozenset[str]:
    return OUR_FILTERS | frozenset(J.environment().filters)


@cache
def known_tests() -> frozenset[str]:
    return frozenset(J.environment().tests)


def check_templates(state: CheckState) -> None:
    reported_args: set[str] = set()
    for step in state.workflow.steps:
        found = [_analyze(field, node) for field, node in _template_nodes(step)]
        state.templates[step.name] = found
        for template in found:
            _check_template(state, step, template, reported_args)


def _template_nodes(step: Step) -> list[tuple[str, Str]]:
    nodes = step.template_fields()
    inputs = step.origin.value("inputs") if step.origin else None
    if isinstance(inputs, Array):
        nodes += [(f"inputs[{i}]", item) for i, item in enumerate(inputs.items) if isinstance(item, Str)]
    return nodes


def _analyze(field: str, node: Str) -> Template:
    return Template(field, node, J.analyze(node.value, expression=field in ("if", "for_each")))


class _Site:
    """Where a template sits, to turn template positions into file spans."""

    def __init__(self, state: CheckState, step: Step, template: Template) -> None:
        self.state = state
        self.step = step
        self.template = template
        node = template.node
        self.source, self.shift = (J.expression_source(node.value) if template.info.is_expression
                                   else (node.value, 0))
        self.nth = _occurrences(template.info.refs, lambda ref: (ref.root, ref.path, ref.lineno))

    def span_of(self, located: tuple[int, int] | None) -> Span:
        node = self.template.node
        if located is None:
            return node.span
        start = max(0, min(located[0] - self.shift, len(node.value)))
        end = max(start, min(located[1] - self.shift, len(node.value)))
        return node.source_span(start, end)

    def ref_span(self, ref: J.Ref, depth: int) -> Span:
        return self.span_of(J.locate_chain(self.source, ref, depth, self.nth[id(ref)]))

    def report(self, code: str, message: str, span: Span, label: str = "", **extra: object) -> None:
        self.state.report(code, message, span, label, **extra)


def _occurrences(items: tuple, key: Callable[[Any], tuple]) -> dict[int, int]:
    """For each item (by identity), how many equal items on the same line came before it:
    the same name written twice on a line must point at two places, not twice at the first."""
    counts: dict[tuple, int] = {}
    nth = {}
    for item in items:
        k = key(item)
        nth[id(item)] = counts.get(k, 0)
        counts[k] = nth[id(item)] + 1
    return nth


def _check_template(state: CheckState, step: Step, template: Template, reported_args: set[str]) -> None:
    site = _Site(state, step, template)
    info = template.info
    if info.error is not None:
        _syntax_error(site, info)
        return
    for ref in info.refs:
        _check_ref(site, ref, reported_args)
    if template.field == "save":
        _check_save_refs(site, info)
    _check_filters(site, info)
    if template.field == "for_each":
        _check_for_each_type(site, info)


def _syntax_error(site: _Site, info: J.TemplateInfo) -> None:
    span = site.span_of(J.locate_line(site.source, info.error_line or 1))
    what = "expression" if info.is_expression else "template"
    site.report("template-syntax", f"{what} syntax error in `{site.template.field}`: {info.error}", span,
                "here", help="templates are Jinja2: {{ expression }}, {% tag %}, {# comment #}")


# --- references ------------------------------------------------------------------------


def _check_ref(site: _Site, ref: J.Ref, reported_args: set[str]) -> None:
    guarded = (ref.root, ref.path) in site.template.info.guarded or (ref.root, ref.path[:1]) in \
        site.template.info.guarded
    if ref.root == "steps":
        _step_ref(site, ref)
    elif ref.root == "args":
        _arg_ref(site, ref, guarded, reported_args)
    elif ref.root in ROOT_FIELDS:
        _field_of_root(site, ref)
    elif ref.root == "item":
        _item_ref(site, ref)
    elif (ref.root in RETRY_ROOTS and site.template.field == "verify_retry_prompt") or ref.root in ("env", "workflow"):
        return
    else:
        _bare_name(site, ref, guarded)


def _step_ref(site: _Site, ref: J.Ref) -> None:
    if not ref.path:
        return  # `steps` itself, e.g. iterated; nothing to resolve statically
    name = ref.path[0]
    if name in site.state.workflow.unbuilt_steps:
        return  # the step exists but has errors of its own, reported where it is declared
    if site.state.step(name) is None:
        site.report("unknown-step", f"no step named `{name}`", site.ref_span(ref, 1), "not a step of this workflow",
                    help=did_you_mean(name, site.state.workflow.declared_step_names))
        return
    _add_edge(site, name, ref, 1)
    if len(ref.path) > 1:
        _step_field(site, ref, name)


def _step_field(site: _Site, ref: J.Ref, name: str) -> None:
    field = ref.path[1]
    if field not in STEP_FIELDS:
        site.report("unknown-step-field", f"a step result has no field `{field}`", site.ref_span(ref, 2),
                    "not a step field", help=did_you_mean(field, STEP_FIELDS) or
                    "the fields are " + ", ".join(STEP_FIELDS))
        return
    if field == "json" and len(ref.path) > 2:
        _json_field(site, ref, name)


def _json_field(site: _Site, ref: J.Ref, name: str) -> None:
    upstream = site.state.step(name)
    schema = upstream.output_schema if upstream else None
    if not schema:
        return  # untyped JSON: anything goes
    from muxc.lang.outschema import field_types

    types = field_types(schema)
    path = list(ref.path[2:])
    for depth in range(len(path), 0, -1):
        key = ".".join(path[:depth])
        if key in types:
            return
    top = path[0]
    site.report("unknown-json-field", f"the output_schema of `{name}` has no field `{top}`", site.ref_span(ref, 3),
                "not in the schema", help=did_you_mean(top, [k for k in types if "." not in k]) or
                "its fields are " + ", ".join(k for k in types if "." not in k))


def _add_edge(site: _Site, upstream: str, ref: J.Ref, depth: int) -> None:
    if upstream == site.step.name:
        site.report("dependency-cycle", f"step `{upstream}` reads its own result", site.ref_span(ref, depth),
                    "itself", help="a step cannot use its own output")
        site.state.has_cycle = True
        return
    site.state.edges.append(Edge(site.step.name, upstream, site.template.node.span, site.template.field,
                                 consumes=True, locate=lambda: site.ref_span(ref, depth)))


def _arg_ref(site: _Site, ref: J.Ref, guarded: bool, reported: set[str]) -> None:
    if not ref.path or guarded:
        return
    name = ref.path[0]
    workflow = site.state.workflow
    if name in workflow.args:
        return
    if workflow.declares_args:
        declared = ", ".join(f"`{a}`" for a in workflow.args) or "none"
        site.report("undeclared-arg", f"argument `{name}` is not declared", site.ref_span(ref, 1), "not declared",
                    help=did_you_mean(name, workflow.args) or f"the declared arguments are {declared}")
    elif name not in reported:
        reported.add(name)
        site.report("implicit-arg", f"argument `{name}` is used but not declared", site.ref_span(ref, 1),
                    "not declared", help=f"declare it ([args.{name}] or `arg {name}`) so `muxc build` can check it; "
                    "until then the build requires it")


def _field_of_root(site: _Site, ref: J.Ref) -> None:
    if not ref.path:
        return
    fields = ROOT_FIELDS[ref.root]
    if ref.path[0] not in fields:
        site.report("unknown-variable-field", f"`{ref.root}` has no field `{ref.path[0]}`", site.ref_span(ref, 1),
                    "unknown field", help=did_you_mean(ref.path[0], fields) or "its fields are " + ", ".join(fields))


def _item_ref(site: _Site, ref: J.Ref) -> None:
    if site.step.for_each is None or site.template.field == "for_each":
        where = "in its own for_each expression" if site.template.field == "for_each" else "outside a for_each step"
        site.report("item-outside-for-each", f"`item` is used {where}", site.ref_span(ref, 0), "no item here",
                    help="`item` is the current element inside a step that has for_each")


def _bare_name(site: _Site, ref: J.Ref, guarded: bool) -> None:
    """An argument or a step; a step is an edge even when guarded (`| default`, `is defined`)."""
    state = site.state
    name = ref.root
    is_arg, is_step = name in state.workflow.args, state.step(name) is not None
    if is_arg and is_step:
        site.report("ambiguous-name", f"`{name}` is both an argument and a step", site.ref_span(ref, 0),
                    "which one?", help=f"write args.{name} or steps.{name}.output")
    elif is_step:
        _add_edge(site, name, ref, 0)
    elif not is_arg and not guarded and name not in state.workflow.unbuilt_steps:
        span = site.ref_span(ref, 0)
        candidates = [*state.workflow.args, *state.workflow.declared_step_names, *ROOTS]
        if site.template.field == "verify_retry_prompt":
            candidates += list(RETRY_ROOTS)
        site.report("unknown-name", f"`{name}` is not defined", span, "unknown name",
                    help=did_you_mean(name, candidates) or
                    "a bare name must be an argument or a step; other values live under steps, args, env, team, "
                    "ecosystem, memory, workflow")


def _check_save_refs(site: _Site, info: J.TemplateInfo) -> None:
    """Saved files are build targets, named before anything runs: no step results in the path."""
    for ref in info.refs:
        step = ref.path[0] if ref.root == "steps" and ref.path else ref.root
        if (ref.root == "steps" or ref.root not in ROOTS) and site.state.step(step) is not None:
            site.report("bad-save-path", f"the save path reads the result of step `{step}`",
                        site.ref_span(ref, 1 if ref.root == "steps" else 0), "not known before the build",
                        help="a save path may use args, env, workflow and team; it is decided before any step runs")


# --- filters and for_each --------------------------------------------------------------


def _check_filters(site: _Site, info: J.TemplateInfo) -> None:
    nth = _occurrences(info.filters, lambda use: (use.name, use.lineno))
    for use in info.filters:
        if use.name not in known_filters():
            located = J.locate_filter(site.source, use, nth[id(use)])
            site.report("unknown-filter", f"no filter named `{use.name}`", site.span_of(located), "unknown filter",
                        help=did_you_mean(use.name, known_filters()) or "muxc's filters are " +
                        ", ".join(sorted(OUR_FILTERS)) + ", plus Jinja's built-in filters")
    nth = _occurrences(info.tests, lambda use: (use.name, use.lineno))
    for use in info.tests:
        if use.name not in known_tests():
            located = J.locate_test(site.source, use, nth[id(use)])
            site.report("unknown-test", f"no test named `{use.name}`", site.span_of(located), "unknown test",
                        help=did_you_mean(use.name, known_tests()))


LIST_FILTERS = frozenset({"lines", "list", "sort", "map", "select", "reject", "selectattr", "rejectattr", "unique",
                          "batch", "slice", "dictsort", "reverse"})
TEXT_FILTERS = frozenset({"join", "trim", "json", "tojson", "upper", "lower", "replace", "format", "indent",
                          "truncate", "striptags", "title", "capitalize", "center", "wordwrap", "urlencode",
                          "escape", "e", "safe", "string", "shell_escape", "raw_shell", "strftime"})


def value_type(shape: tuple, site: _Site) -> str:
    """'list', 'text', 'table' or 'any' for an expression's shape."""
    kind = shape[0] if shape else "other"
    if kind == "list":
        return "list"
    if kind == "dict":
        return "table"
    if kind == "const":
        return "text" if shape[1] == "str" else "any"
    if kind == "filter":
        return _filter_type(shape, site)
    if kind == "call":
        return "list" if shape[2][-1:] in (("split",), ("splitlines",)) or shape[1] == "memory" else "any"
    if kind == "ref":
        return _ref_type(shape[1], shape[2], site)
    return "any"


def _filter_type(shape: tuple, site: _Site) -> str:
    name = shape[1]
    if name in LIST_FILTERS:
        return "list"
    if name in TEXT_FILTERS:
        return "text"
    if name in ("default", "d"):
        return value_type(shape[2], site)
    return "any"


def _ref_type(root: str, path: tuple[str, ...], site: _Site) -> str:
    state = site.state
    if root == "steps" and len(path) >= 2:
        return _step_field_type(path[0], path[1:], site)
    if root == "steps":
        return "any"
    if root in ("args", "env", "workflow") or (root in state.workflow.args and not path):
        return "text" if len(path) <= 1 or root == "workflow" else "any"
    if root == "ecosystem" and path[:1] in (("projects",), ("knowledge",)):
        return "list"
    if state.step(root) is not None and not path:
        return "text"
    return "any"


def _step_field_type(name: str, fields: tuple[str, ...], site: _Site) -> str:
    first = fields[0]
    if first in ("output", "error", "backend") and len(fields) == 1:
        return "text"
    if first == "backends":
        return "list"
    if first == "outputs" and len(fields) == 1:
        return "table"
    if first == "json":
        return _json_type(name, fields[1:], site)
    return "any"


def _json_type(name: str, path: tuple[str, ...], site: _Site) -> str:
    upstream = site.state.step(name)
    schema = upstream.output_schema if upstream else None
    if not schema:
        return "any"
    from muxc.lang.outschema import field_types

    kind = schema.get("type") if not path else field_types(schema).get(".".join(path))
    return {"array": "list", "object": "table", "string": "text"}.get(str(kind), "any")


def _check_for_each_type(site: _Site, info: J.TemplateInfo) -> None:
    kind = value_type(info.shape, site)
    if kind in ("list", "any"):
        return
    if kind == "text":  # llm-mux took items from JSON in the text: keep such workflows working, but say so
        site.report("for-each-text", "`for_each` yields text: its items will be a JSON array found in it, "
                    "else its non-blank lines", site.template.node.span, "this is text",
                    help="write `| lines` to say you mean lines, or give the step an output_schema whose type is "
                    "an array and iterate steps.X.json")
        return
    site.report("for-each-not-list", f"`for_each` must yield a list, but this yields {kind}",
                site.template.node.span, f"this is {kind}",
                help="iterate a table's keys with `| list`, or its entries with `| dictsort`")
