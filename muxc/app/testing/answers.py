"""The answer source of a test build: every backend answers from the case's scripted answers.

``ScriptedPool`` stands in for the build's ``BackendPool``: roles are resolved as in any build
(so the same role logic, retries and logging run), and whichever backend a role picks answers
with the next scripted text of the asking step (the last one repeats). A query with no scripted
answer fails with a message saying where to add one. Every answer is counted per step.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from muxc.backends.base import Backend, BackendError, Completion, CompletionRequest, ProgressCallback
from muxc.backends.registry import BackendPool
from muxc.base.cancel import Cancel


class ScriptedAnswers:
    """The scripted texts per step, handed out in order; thread-safe (steps run in parallel)."""

    def __init__(self, texts: Mapping[str, tuple[str, ...]]) -> None:
        self._texts = dict(texts)
        self._lock = threading.Lock()
        self.asked: dict[str, int] = {}
        self.prompts: dict[str, list[str]] = {}

    def next(self, request: CompletionRequest, backend: str) -> str:
        with self._lock:
            texts = self._texts.get(request.step)
            count = self.asked.get(request.step, 0)
            self.asked[request.step] = count + 1
            self.prompts.setdefault(request.step, []).append(request.prompt)
        if not texts:
            raise BackendError("config", backend, f"the test scripts no answer for query step `{request.step}`; "
                               f"add `{request.step} = \"...\"` under [test.answers]")
        return texts[min(count, len(texts) - 1)]

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
        text = self._answers.next(request, self.name)
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
