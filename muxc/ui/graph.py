"""The dependency graph as text: Mermaid and Graphviz DOT (``muxc graph``).

Solid edges: the step reads the other's result. Dashed: order only (``depends_on``).
"""

from __future__ import annotations

from typing import Any


def _edges(checked: Any) -> list[tuple[str, str, bool]]:
    seen: dict[tuple[str, str], bool] = {}
    for edge in checked.edges:
        pair = (edge.upstream, edge.step)
        seen[pair] = seen.get(pair, False) or edge.consumes
    return [(a, b, consumes) for (a, b), consumes in seen.items()]


def _node_label(step: Any) -> str:
    return f"{step.name}\\n{step.type}" + (f" @{step.role}" if step.role else "")


def mermaid(checked: Any) -> str:
    ids = {name: f"s{i}" for i, name in enumerate(checked.workflow.step_names)}
    lines = ["flowchart TD"]
    lines += [f'    {ids[s.name]}["{_node_label(s).replace(chr(92) + "n", "<br/>")}"]' for s in checked.workflow.steps]
    lines += [f"    {ids[a]} {'-->' if consumes else '-.->'} {ids[b]}" for a, b, consumes in _edges(checked)]
    return "\n".join(lines) + "\n"


def dot(checked: Any) -> str:
    lines = [f'digraph "{checked.workflow.name}" {{', "    rankdir=TB;", "    node [shape=box];"]
    lines += [f'    "{s.name}" [label="{_node_label(s)}"];' for s in checked.workflow.steps]
    lines += [f'    "{a}" -> "{b}"' + ("" if consumes else " [style=dashed]") + ";"
              for a, b, consumes in _edges(checked)]
    return "\n".join([*lines, "}"]) + "\n"


def as_data(checked: Any) -> dict[str, Any]:
    """The graph as JSON-ready data: steps, and edges that say whether the step reads the other's result."""
    return {"workflow": checked.workflow.name,
            "steps": [{"name": s.name, "kind": s.type, "role": s.role} for s in checked.workflow.steps],
            "edges": [{"from": a, "to": b, "reads": consumes} for a, b, consumes in _edges(checked)]}
