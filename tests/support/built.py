"""``Built``: one ``muxc build --output json`` run, parsed, with helpers end-to-end tests share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Built:
    """The exit code, the parsed JSON document on stdout, and stderr."""

    code: int
    doc: dict[str, Any]
    stderr: str

    @property
    def status(self) -> dict[str, str]:
        return {step["name"]: step["status"] for step in self.doc["steps"]}

    def steps(self, status: str) -> set[str]:
        return {name for name, value in self.status.items() if value == status}

    @property
    def ran(self) -> set[str]:
        return self.steps("ran")

    @property
    def cached(self) -> set[str]:
        return self.steps("cached")

    def step(self, name: str) -> dict[str, Any]:
        return next(step for step in self.doc["steps"] if step["name"] == name)

    def error(self, name: str) -> str:
        return self.step(name)["error"] or ""

    @property
    def output(self) -> str | None:
        return self.doc["output"]
