"""What the queries a dry run would make may cost: tokens in and out, and USD, each labelled.

Tokens in: the rendered prompt (four characters a token) when the step's inputs are built; when
they are not (an upstream step would run first), the prompt's template plus each upstream
output it reads, sized by that step's last output, else by the estimate of its own answer (an
upstream query), else by a typical size for its kind. Tokens out: the average answer of the
backend in the LLM log, else a typical answer. USD: the backend's ``price`` from the config, else
the list price of a well-known model (``prices.list_price``), else none (said so); a backend on
this machine (the built-in model, a loopback server) costs nothing.

Estimates are computed in build order, so a step downstream of an estimated query uses that
query's estimated answer. Nothing here calls a backend or writes anything.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from muxc.app.prices import list_price
from muxc.run.context import Build

CHARS_PER_TOKEN = 4
TYPICAL_ANSWER_TOKENS = 500  # a query's answer when its backend has no history
TYPICAL_OUTPUT_TOKENS = {"shell": 1000, "input": 20, "store": 50, "apply": 200}  # other kinds with no history
_REFERENCE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)


class Estimate(msgspec.Struct, frozen=True):
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    basis: str  # how the input was sized: "rendered prompt" or "template + …"
    output_basis: str  # "average of N calls to X" or "typical answer"
    price: str  # where the price comes from, or why there is none

    @property
    def exact_input(self) -> bool:
        return self.basis == "rendered prompt"


def estimate_queries(build: Build, names: list[str]) -> dict[str, Estimate]:
    """An estimate for each query step in ``names`` (steps that would run), in build order."""
    found: dict[str, Estimate] = {}
    for plan in build.plan.steps:
        if plan.name in names and plan.kind == "query":
            found[plan.name] = _estimate(build, plan, found)
    return found


def _estimate(build: Build, plan: Any, earlier: dict[str, Estimate]) -> Estimate:
    backend = _backend(build, plan)
    prompt = build.state(plan.name).rendered.get("prompt")
    if prompt:
        tokens_in, basis = _tokens(len(prompt)), "rendered prompt"
    else:
        tokens_in, basis = _from_template(build, plan, earlier)
    tokens_out, output_basis = _answer_size(build, backend)
    cost, price = _cost(build, backend, tokens_in, tokens_out)
    return Estimate(tokens_in, tokens_out, cost, basis, output_basis, price)


def _tokens(chars: int) -> int:
    return max(1, (chars + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN)


def _from_template(build: Build, plan: Any, earlier: dict[str, Estimate]) -> tuple[int, str]:
    template = "".join(part.value for part in (plan.step.prompt, plan.step.system) if part is not None)
    tokens = _tokens(len(_REFERENCE.sub("", template)))
    said = [f"template ~{tokens:,}"]
    for name in plan.consumes:
        size, how = _upstream_size(build, name, earlier)
        tokens += size
        said.append(f"`{name}` ~{size:,} ({how})")
    return tokens, " + ".join(said)


def _upstream_size(build: Build, name: str, earlier: dict[str, Estimate]) -> tuple[int, str]:
    """Tokens an upstream step's output adds to a prompt, and how that was sized."""
    state = build.state(name)
    if state.record is not None and state.status in ("cached", "ran"):
        return _tokens(len(state.record.output)), "its output"
    last = build.latest.get(name)
    record = build.store.get(last.key) if last is not None else None
    if record is not None:
        return _tokens(len(record.output)), "its last output"
    if name in earlier:
        return earlier[name].output_tokens, "its estimated answer"
    kind = build.step(name).kind
    return TYPICAL_OUTPUT_TOKENS.get(kind, TYPICAL_ANSWER_TOKENS), f"typical for a {kind} step"


def _backend(build: Build, plan: Any) -> Any:
    """The backend config that would answer first, or None when the role cannot be resolved."""
    from muxc.backends.roles import RoleError
    from muxc.run.steps.query import resolved_role

    try:
        role = resolved_role(build, plan)
    except RoleError:
        return None
    return build.config.backends.get(role.backends[0]) if role.backends else None


def _answer_size(build: Build, backend: Any) -> tuple[int, str]:
    if backend is not None and build.llm_log is not None:
        average = build.llm_log.average_usage(backend.name)
        if average.calls and average.output_tokens is not None:
            calls = f"{average.calls} call{'s' if average.calls != 1 else ''}"
            return int(average.output_tokens), f"average of {calls} to `{backend.name}`"
    return TYPICAL_ANSWER_TOKENS, "typical answer"


def _cost(build: Build, backend: Any, tokens_in: int, tokens_out: int) -> tuple[float | None, str]:
    if backend is None:
        return None, "no backend"
    if backend.price is not None:
        return _usd(backend.price, tokens_in, tokens_out), f"`{backend.name}`'s price in the config"
    if _runs_here(backend):
        return 0.0, f"`{backend.name}` runs on this machine"
    model = backend.model or ""
    known = list_price(model)
    if known is None:
        return None, (f"no price known for `{backend.name}`" + (f" ({model})" if model else "") +
                      f": set [backends.{backend.name}.price]")
    name, price = known
    return _usd(price, tokens_in, tokens_out), f"list price of {name}"


def _usd(price: Any, tokens_in: int, tokens_out: int) -> float:
    return (tokens_in * price.input + tokens_out * price.output) / 1_000_000


def _runs_here(backend: Any) -> bool:
    if backend.type == "local" or backend.managed is not None:
        return True
    url = backend.base_url or (backend.command or "")
    return bool(re.match(r"https?://(127\.\d+\.\d+\.\d+|localhost|\[::1\])[:/]", url))
