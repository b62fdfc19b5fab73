"""Pass: the dependency graph — declared and referenced edges together — its cycles and order.

A cycle is reported once, at the edge that closes it (the ``depends_on`` entry or the template
reference), with the rest of the chain as secondary labels. The order is topological with file
order among independent steps, so plans and outputs are stable.
"""

from __future__ import annotations

import heapq

from muxc.check.state import CheckState, Edge
from muxc.diagnostics.model import Label


def check_graph(state: CheckState) -> None:
    names = state.workflow.step_names
    upstream: dict[str, list[Edge]] = {name: [] for name in names}
    for edge in state.edges:
        upstream[edge.step].append(edge)
    cycles = _cycles(names, upstream)
    for cycle in cycles:
        _report_cycle(state, cycle)
    state.has_cycle = state.has_cycle or bool(cycles)
    if not state.has_cycle:
        state.order = _topological(names, upstream)


def _cycles(names: list[str], upstream: dict[str, list[Edge]]) -> list[list[Edge]]:
    """Each elementary cycle found by a depth-first search, once (as a chain of edges).

    The search keeps its own stack instead of recursing: a chain of a few thousand steps
    (generated workflows have them) would exceed Python's recursion limit."""
    state = dict.fromkeys(names, 0)  # 0 new, 1 on the stack, 2 done
    found: list[list[Edge]] = []
    seen: set[frozenset[str]] = set()
    for root in names:
        if state[root] != 0:
            continue
        state[root] = 1
        frames = [(root, iter(upstream[root]))]
        path: list[Edge] = []  # the edges from root to the step on top of ``frames``
        while frames:
            name, edges = frames[-1]
            edge = next(edges, None)
            if edge is None:
                state[name] = 2
                frames.pop()
                if path:
                    path.pop()
            elif state[edge.upstream] == 1:
                start = next((i for i, e in enumerate(path) if e.step == edge.upstream), len(path))
                cycle = [*path[start:], edge]
                key = frozenset(e.step for e in cycle)
                if key not in seen:
                    seen.add(key)
                    found.append(cycle)
            elif state[edge.upstream] == 0:
                state[edge.upstream] = 1
                path.append(edge)
                frames.append((edge.upstream, iter(upstream[edge.upstream])))
    return found


def _report_cycle(state: CheckState, cycle: list[Edge]) -> None:
    closing = cycle[-1]
    chain = " -> ".join([cycle[0].step, *(edge.upstream for edge in cycle)])
    others = [Label(state.file, edge.exact_span(), f"`{edge.step}` needs `{edge.upstream}`", primary=False)
              for edge in cycle[:-1]]
    state.report("dependency-cycle", f"dependency cycle: {chain}", closing.exact_span(),
                 f"`{closing.step}` needs `{closing.upstream}`, which closes the cycle", secondary=others,
                 help="remove one of these references, or pass the value another way")


def _topological(names: list[str], upstream: dict[str, list[Edge]]) -> list[str]:
    """Kahn's algorithm, always taking the earliest step in the file among the ready ones."""
    remaining = {name: {e.upstream for e in upstream[name]} for name in names}
    downstream: dict[str, list[int]] = {name: [] for name in names}
    for index, name in enumerate(names):
        for dep in remaining[name]:
            downstream[dep].append(index)
    ready = [i for i, name in enumerate(names) if not remaining[name]]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        name = names[heapq.heappop(ready)]
        order.append(name)
        for child in downstream[name]:
            remaining[names[child]].discard(name)
            if not remaining[names[child]]:
                heapq.heappush(ready, child)
    return order
