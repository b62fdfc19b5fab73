"""-j N: independent steps run at once, dependencies still wait; for_each items share the workers."""

from __future__ import annotations

import itertools
import time

import pytest

FOUR = """
    workflow w "four independent sleeps and a join"

    shell a:
        echo "start a $(date +%s.%N)" >> "$COUNTER"; sleep 0.5; echo "end a $(date +%s.%N)" >> "$COUNTER"
    shell b:
        echo "start b $(date +%s.%N)" >> "$COUNTER"; sleep 0.5; echo "end b $(date +%s.%N)" >> "$COUNTER"
    shell c:
        echo "start c $(date +%s.%N)" >> "$COUNTER"; sleep 0.5; echo "end c $(date +%s.%N)" >> "$COUNTER"
    shell d:
        echo "start d $(date +%s.%N)" >> "$COUNTER"; sleep 0.5; echo "end d $(date +%s.%N)" >> "$COUNTER"

    shell join [depends_on = ["a", "b", "c", "d"]]:
        echo "start join $(date +%s.%N)" >> "$COUNTER"
        echo joined
    """


def _events(project) -> dict[tuple[str, str], float]:
    lines = project.counter.read_text().splitlines()
    project.counter.unlink()
    return {(what, step): float(at) for what, step, at in (line.split() for line in lines)}


def _timed_build(project, *args):
    started = time.monotonic()
    built = project.build(*args)
    return built, time.monotonic() - started


@pytest.mark.slow
def test_four_jobs_run_four_steps_at_once(project):
    project.workflow(FOUR)
    built = project.build("-j", "4")
    assert built.ran == {"a", "b", "c", "d", "join"}
    events = _events(project)
    starts = [events[("start", s)] for s in "abcd"]
    ends = [events[("end", s)] for s in "abcd"]
    assert max(starts) < min(ends)  # all four were running at the same moment
    assert events[("start", "join")] >= max(ends)


@pytest.mark.slow
def test_one_job_runs_one_step_at_a_time(project):
    project.workflow(FOUR)
    built, seconds = _timed_build(project, "-j", "1")
    assert built.ran == {"a", "b", "c", "d", "join"}
    assert seconds >= 2.0
    events = _events(project)
    spans = sorted((events[("start", s)], events[("end", s)]) for s in "abcd")
    assert all(end <= next_start for (_, end), (next_start, _) in itertools.pairwise(spans))
    assert events[("start", "join")] >= spans[-1][1]


@pytest.mark.slow
def test_two_jobs_never_run_more_than_two_steps(project):
    project.workflow(FOUR)
    _, seconds = _timed_build(project, "-j", "2")
    events = _events(project)
    spans = [(events[("start", s)], events[("end", s)]) for s in "abcd"]
    running = [sum(1 for start, end in spans if start <= moment < end) for moment, _ in spans]
    assert max(running) == 2
    assert seconds >= 1.0


@pytest.mark.slow
def test_for_each_items_run_at_once(project):
    project.workflow("""
        workflow w "four items"

        shell each [for_each = "['a', 'b', 'c', 'd']"]:
            echo "start {{ item }} $(date +%s.%N)" >> "$COUNTER"
            sleep 0.5
            echo "end {{ item }} $(date +%s.%N)" >> "$COUNTER"
            echo {{ item }}
        """)
    built = project.build("-j", "4")
    assert built.output == "a\nb\nc\nd"  # in the list's order, however they finished
    events = _events(project)
    assert max(events[("start", s)] for s in "abcd") < min(events[("end", s)] for s in "abcd")


def test_queries_run_concurrently_against_the_server(project):
    project.server.latency = 0.3
    project.workflow("""
        workflow w "three questions"

        query one @analyzer:
            One?
        query two @analyzer:
            Two?
        query three @analyzer:
            Three?
        """)
    built = project.build("-j", "3")
    assert built.ran == {"one", "two", "three"}
    assert project.server.max_in_flight == 3  # all three were waiting for an answer at once
