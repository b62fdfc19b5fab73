"""``steps.X`` as templates see it: the output text, with the result's fields as attributes.

Apart from the template engine so that showing a result (``muxc.run.scope.view_of``, the
summary, the no-op fast path) does not load Jinja.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


class StepView(str):
    """What ``steps.X`` (or a bare step name) is in a template: its output text, with the result's
    fields as attributes. Being the text itself, it compares, tests and filters like it
    (``{% if review == "ok" %}``, ``"TODO" in notes``, ``notes | lines``)."""

    output: str
    outputs: dict[str, str]
    failed: bool
    error: str
    skipped: bool
    backend: str
    backends: list[str]
    duration_ms: int
    # what `.json` is when the output holds none: muxc.run.templating sets its undefined value
    # (templates read `.json`, so it is loaded whenever this is asked)
    no_json: Callable[[], Any] = staticmethod(lambda: None)

    def __new__(cls, output: str = "", outputs: Mapping[str, str] | None = None, failed: bool = False,
                error: str | None = None, skipped: bool = False, backend: str | None = None,
                backends: list[str] | None = None, duration_ms: int = 0) -> StepView:
        view = super().__new__(cls, output)
        view.output = output
        view.outputs = dict(outputs or {})
        view.failed = failed
        view.error = error or ""
        view.skipped = skipped
        view.backend = backend or ""
        view.backends = list(backends or [])
        view.duration_ms = duration_ms
        return view

    @property
    def json(self) -> Any:
        """The output parsed as JSON (fenced or surrounded by prose is fine); undefined if none."""
        cached = self.__dict__.get("_json")
        if cached is None:
            from muxc.lang.llmjson import extract_json

            found = extract_json(self.output)
            cached = found.value if found is not None else StepView.no_json()
            self.__dict__["_json"] = cached
        return cached
