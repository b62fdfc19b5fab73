"""``schedule.batched``: the order steps reach doit, grouped by the managed backend they need."""

from __future__ import annotations

import itertools
import random

from muxc.run.schedule import batched


def test_independent_steps_alternating_between_two_backends_are_grouped_in_their_order() -> None:
    nodes = [(f"q{i}", (), "ab"[i % 2]) for i in range(8)]
    assert batched(nodes) == ["q0", "q2", "q4", "q6", "q1", "q3", "q5", "q7"]


def test_with_one_managed_backend_or_none_the_plan_order_is_kept() -> None:
    nodes = [("s", (), None), ("q1", ("s",), "a"), ("t", (), None), ("q2", (), "a")]
    assert batched(nodes) == ["s", "q1", "t", "q2"]
    assert batched([("x", (), None), ("y", (), None)]) == ["x", "y"]


def test_a_step_never_comes_before_what_it_depends_on() -> None:
    chain = [("a1", (), "a"), ("b1", ("a1",), "b"), ("a2", ("b1",), "a"), ("b2", ("a2",), "b")]
    assert batched(chain) == ["a1", "b1", "a2", "b2"]


def test_steps_without_a_managed_backend_keep_their_place_and_do_not_force_a_switch() -> None:
    nodes = [("sources", (), None), ("safety", ("sources",), "a"), ("perf", ("sources",), "b"),
             ("errors", ("sources",), "a"), ("lint", (), None), ("summary", ("safety", "perf", "errors"), "b")]
    assert batched(nodes) == ["sources", "safety", "errors", "lint", "perf", "summary"]


def test_random_graphs_stay_topological_and_complete() -> None:
    rng = random.Random(7)
    for _ in range(200):
        count = rng.randint(1, 25)
        nodes = [(f"n{i}", tuple(f"n{j}" for j in range(i) if rng.random() < 0.15), rng.choice(["a", "b", "c", None]))
                 for i in range(count)]
        order = batched(nodes)
        assert sorted(order) == sorted(name for name, _, _ in nodes)
        seen: set[str] = set()
        for name in order:
            deps = next(d for n, d, _ in nodes if n == name)
            assert set(deps) <= seen, (name, deps, order)
            seen.add(name)


def test_switches_are_no_more_than_the_plan_order_would_cause() -> None:
    rng = random.Random(11)

    def switches(order: list[str], group: dict[str, str | None]) -> int:
        used = [group[name] for name in order if group[name] is not None]
        return sum(1 for before, after in itertools.pairwise(used) if before != after)

    for _ in range(200):
        count = rng.randint(2, 20)
        nodes = [(f"n{i}", tuple(f"n{j}" for j in range(i) if rng.random() < 0.1), rng.choice(["a", "b", None]))
                 for i in range(count)]
        group = {name: g for name, _, g in nodes}
        assert switches(batched(nodes), group) <= switches([n for n, _, _ in nodes], group)
