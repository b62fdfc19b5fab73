"""Record workflow-test cassettes from scripted answers, with no model: ``python -m tools.record_scripted PATHS``.

The stdlib's tests replay committed cassettes (``stdlib/tests/NAME.cassette.toml``). Their answers
were written by hand as answers a real model could give; this tool (re)records the cassettes
through the same recording path ``muxc test --record`` takes, answering each query with:

1. the test's own ``[test.answers]`` for the step, if it still has them (they move into the
   cassette: remove them from the test file afterwards to replay from it), else
2. the answer the cassette already holds for the same test and step, the one recorded with the
   prompt closest to the prompt now (so a reworded prompt keeps its answer under its new key).

A query with neither fails, as in ``muxc test``. To record against a real model instead, use
``muxc test --record PATHS`` (docs/testing.md). Prints each cassette written; exits 1 when a test
fails after recording (an answer no longer fits the workflow: fix it in the cassette by hand).
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path
from typing import Any

import msgspec

from muxc.app.api import Report
from muxc.app.testing.cassette import Recorded
from muxc.app.testing.runner import PASSED, Loaded, collect, run_case, save_cassettes


class ScriptedSource:
    """Answers one test's queries from its scripted texts, else from its earlier recordings."""

    def __init__(self, scripted: dict[str, tuple[str, ...]], earlier: list[Recorded]) -> None:
        self.scripted = scripted
        self.earlier = earlier
        self.asked: dict[str, int] = {}

    def __call__(self, request: Any, cancel: Any) -> str:
        texts = self.scripted.get(request.step)
        count = self.asked.get(request.step, 0)
        self.asked[request.step] = count + 1
        if texts:
            return texts[min(count, len(texts) - 1)]
        same = [entry for entry in self.earlier if entry.step == request.step]
        if not same:
            raise LookupError(f"no scripted or recorded answer for step `{request.step}`")
        return max(same, key=lambda e: difflib.SequenceMatcher(None, e.prompt, request.prompt).ratio()).answer

    def close(self) -> None:
        pass


def record(paths: list[Path]) -> int:
    report = Report()
    collected = collect(paths, None, report)
    if report.errors:
        for diagnostic in report.diagnostics:
            print(f"{diagnostic.code}: {diagnostic.message}", file=sys.stderr)
        return 1
    cases, results = [], []
    for loaded, index in collected.cases:
        case = loaded.file.cases[index]
        source = ScriptedSource({a.step: a.texts for a in case.answers},
                                [entry for entry in loaded.recorded if entry.test == case.name])
        bare = _without_answers(loaded, index)
        cases.append((bare, index))
        results.append(run_case(bare, index, "all", source))
    for path in save_cassettes(cases, results):
        print(f"recorded: {path}")
    failed = [result.id for result in results if result.outcome != PASSED]
    for ident in failed:
        print(f"failed after recording: {ident}", file=sys.stderr)
    return 1 if failed else 0


def _without_answers(loaded: Loaded, index: int) -> Loaded:
    """The test file with this case's scripted answers taken out (so its queries are recorded)."""
    cases = list(loaded.file.cases)
    cases[index] = msgspec.structs.replace(cases[index], answers=())
    return msgspec.structs.replace(loaded, file=msgspec.structs.replace(loaded.file, cases=tuple(cases)))


if __name__ == "__main__":
    raise SystemExit(record([Path(arg) for arg in sys.argv[1:]] or [Path("stdlib")]))
