"""The answer source of a test build: every backend answers from the case's scripted answers.

``ScriptedPool`` stands in for the build's ``BackendPool``: roles are resolved as in any build
(so the same role logic, retries and logging run), and whichever backend a role picks answers
with the next scripted text of the asking step (the last one repeats), else the cassette's answer
for the request's cache key (or, under another key, for exactly the same step and prompts: then
only the backends' config changed, and a recording run re-keys it), else (when recording) a real
backend's. A query with none fails
with a message saying what changed and how to record. Every answer is counted per step.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec

from muxc.app.testing.cassette import Recorded, prompt_diff
from muxc.backends.base import Backend, BackendError, Completion, CompletionRequest, ProgressCallback
from muxc.backends.registry import BackendPool
from muxc.base.cancel import Cancel

Live = Callable[[CompletionRequest, Cancel], str]  # asks a real backend (recording)


class Miss(msgspec.Struct, frozen=True):
    """A query the test could not answer: no scripted text, and no recorded answer for its key."""

    step: str
    workflow: str
    diff: str  # recorded prompt -> prompt now; "" when nothing was ever recorded for the step
    recorded: bool  # the cassette holds an answer of this step under another key


class ScriptedAnswers:
    """Where a test's answers come from, in order: the test's scripted texts for the step (in
    order, the last repeats), then the cassette by cache key, then (recording) a real backend.
    Thread-safe: steps run in parallel. ``used`` is what the cassette should hold afterwards."""

    def __init__(self, texts: Mapping[str, tuple[str, ...]], *, test: str = "", workflow: str = "",
                 recorded: Sequence[Recorded] = (), live: Live | None = None, rerecord: bool = False) -> None:
        self._texts = dict(texts)
        self._test = test
        self._workflow = workflow
        self._recorded = {entry.key: entry for entry in recorded if not rerecord}
        # the same test, step and prompts under another key: the backends' config changed, not the step
        self._by_prompt = {(entry.step, entry.prompt, entry.system): entry for entry in recorded if not rerecord}
        self._earlier = {entry.step: entry for entry in recorded}  # for the prompt diff of a miss
        self._live = live
        self._lock = threading.Lock()
        self.asked: dict[str, int] = {}
        self.used: dict[str, Recorded] = {}
        self.misses: list[Miss] = []  # the runner reports these as the test's failures

    def next(self, request: CompletionRequest, backend: str, cancel: Cancel) -> str:
        with self._lock:
            texts = self._texts.get(request.step)
            count = self.asked.get(request.step, 0)
            self.asked[request.step] = count + 1
            hit = self._recorded.get(request.cache_key) if request.cache_key else None
            if hit is None:
                same = self._by_prompt.get((request.step, request.prompt, request.system or ""))
                hit = msgspec.structs.replace(same, key=request.cache_key) if same is not None else None
        if texts:
            return texts[min(count, len(texts) - 1)]
        if hit is not None:
            with self._lock:
                self.used[hit.key] = hit
            return hit.answer
        if self._live is None:
            raise BackendError("config", backend, self._missing(request))
        answer = self._live(request, cancel)
        with self._lock:
            self.used[request.cache_key] = Recorded(self._test, request.step, request.cache_key, request.prompt, answer,
                                                    request.system or "")
        return answer

    def _missing(self, request: CompletionRequest) -> str:
        earlier = self._earlier.get(request.step)
        diff = ""
        if earlier is not None:
            diff = prompt_diff(earlier.prompt, request.prompt) or \
                prompt_diff(earlier.system, request.system or "", "system prompt")
        with self._lock:
            self.misses.append(Miss(request.step, self._workflow, diff, earlier is not None))
        if earlier is None:
            return (f"the test scripts no answer for query step `{request.step}`; add `{request.step} = \"...\"` "
                    "under [test.answers], or record one with `muxc test --record-missing`")
        diff = prompt_diff(earlier.prompt, request.prompt) or "(the prompt is the same: its backends or inputs changed)"
        return (f"step `{request.step}` of workflow `{self._workflow}` changed since its answer was recorded "
                f"(its cache key misses); `muxc test --record` refreshes it\n{diff}")

    @property
    def calls(self) -> int:
        with self._lock:
            return sum(self.asked.values())


class ScriptedBackend:
    """One configured backend name, answering from the script."""

    def __init__(self, name: str, identity: dict[str, Any], answers: ScriptedAnswers) -> None:
        self.name = name
        self._identity = identity
        self._answers = answers

    @property
    def reads_project(self) -> bool:
        return False

    def identity(self) -> dict[str, Any]:
        return self._identity

    def complete(self, request: CompletionRequest, cancel: Cancel,
                 on_progress: ProgressCallback | None = None) -> Completion:
        text = self._answers.next(request, self.name, cancel)
        if on_progress is not None:
            on_progress(len(text))
        return Completion(text=text, backend=self.name, model="scripted")

    def close(self) -> None:
        pass


class ScriptedPool(BackendPool):
    """A ``BackendPool`` whose every backend answers from ``answers``: nothing is started or dialled."""

    def __init__(self, pool_config: Any, root: Any, answers: ScriptedAnswers) -> None:
        super().__init__(pool_config, root)
        self.answers = answers

    def _create(self, name: str) -> Backend:
        if name not in self.config.backends:
            return super()._create(name)  # the same message as a real build
        return ScriptedBackend(name, {"kind": "scripted", "backend": name}, self.answers)
