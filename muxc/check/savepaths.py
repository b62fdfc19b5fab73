"""Pass: a save path that ``muxc.confine`` refuses, whatever it renders to, is an error here.

A literal path is decided whole (``> ".git/config"``); a templated one when its literal text
already decides it (``> "../{{ x }}"``, ``> "/etc/{{ x }}"``, ``> "{{ d }}/.git/hooks/x"``). The
diagnostic points at the offending characters. What only the rendered text decides
(``outdir=../x``) fails the step at build time instead, writing nothing.
"""

from __future__ import annotations

from muxc.base.pathrules import ALLOW_FLAG, NOT_A_FILE, OUTSIDE, PROTECTED_PLACE, template_refusal
from muxc.check.state import CheckState
from muxc.syntax.ast import Step

# (label, help) per kind of refusal
_SAID = {
    NOT_A_FILE: ("not a file", "name a file inside the project, such as docs/notes.md"),
    OUTSIDE: ("outside the project", "a saved file goes inside the project: give a path relative to its root"),
    PROTECTED_PLACE: ("never written", "write it somewhere like docs/ or reports/; .git/, .muxc/ and .llm-mux/ "
                      "are off limits to every step"),
}
_TOOL = ("runs code", f"if the step really must write it, add `{ALLOW_FLAG} = true` to the step")


def check_save_paths(state: CheckState) -> None:
    for step in state.workflow.steps:
        if step.save is not None:
            _check(state, step)


def _check(state: CheckState, step: Step) -> None:
    node = step.save
    text = node.value.strip()  # the build strips the rendered path the same way
    lead = len(node.value) - len(node.value.lstrip())
    refused = template_refusal(text, step.allow_tool_files)
    if refused is None:
        return
    label, help_text = _SAID.get(refused.kind, _TOOL)
    state.report("unsafe-save-path", f"`{step.name}` may not save to {text!r}: {refused.rule}",
                 node.source_span(lead + refused.start, lead + refused.end), label, help=help_text)
