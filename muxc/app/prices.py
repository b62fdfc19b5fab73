"""List prices of well-known models, for ``--dry-run`` estimates when the config sets no ``price``.

USD per million tokens (input, output), the providers' published standard rates as of
2025-10; a backend's own ``price`` always wins. A model name matches the longest entry it starts
with, after any ``provider/`` prefix and case are dropped (``openai/gpt-4o-mini-2024-07-18`` is
``gpt-4o-mini``). The estimate says which entry priced it, so a stale figure is visible.
"""

from __future__ import annotations

from muxc.config.schema import Price

AS_OF = "2025-10"

LIST_PRICES: dict[str, tuple[float, float]] = {
    # OpenAI
    "gpt-5": (1.25, 10.0),
    "gpt-5-mini": (0.25, 2.0),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-4.1": (2.0, 8.0),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.0),
    "gpt-4o-mini": (0.15, 0.60),
    "o1": (15.0, 60.0),
    "o3": (2.0, 8.0),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
    # Anthropic
    "claude-opus-4": (15.0, 75.0),
    "claude-sonnet-4": (3.0, 15.0),
    "claude-3-7-sonnet": (3.0, 15.0),
    "claude-3-5-sonnet": (3.0, 15.0),
    "claude-haiku-4": (1.0, 5.0),
    "claude-3-5-haiku": (0.80, 4.0),
    # Google
    "gemini-2.5-pro": (1.25, 10.0),
    "gemini-2.5-flash": (0.30, 2.50),
    "gemini-2.5-flash-lite": (0.10, 0.40),
}


def list_price(model: str) -> tuple[str, Price] | None:
    """(the matching entry, its price) for ``model``, or None for a model not in the table."""
    name = model.rsplit("/", 1)[-1].lower()
    matches = [entry for entry in LIST_PRICES if name == entry or name.startswith(entry + "-")]
    if not matches:
        return None
    entry = max(matches, key=len)
    rate_in, rate_out = LIST_PRICES[entry]
    return f"{entry} ({AS_OF})", Price(input=rate_in, output=rate_out)
