"""How long property tests run: bounded by default, thousands of examples on request.

``MUXC_FUZZ=long`` or ``pytest --hypothesis-profile=long`` selects the long profile (for a
release, not CI); ``MUXC_FUZZ_EXAMPLES=N`` sets the long profile's count (a run that fits the time
you have). A test asks ``examples(n)``: n in a default run, the long count otherwise.
"""

from __future__ import annotations

import os

from hypothesis import settings

LONG_EXAMPLES = int(os.environ.get("MUXC_FUZZ_EXAMPLES", "5000"))

settings.register_profile("long", max_examples=LONG_EXAMPLES, deadline=None)
if os.environ.get("MUXC_FUZZ") == "long":
    settings.load_profile("long")


def examples(default: int) -> int:
    """``default`` normally; the long profile's count when that profile is loaded."""
    long = getattr(settings, "_current_profile", None) == "long"  # hypothesis has no public accessor
    return LONG_EXAMPLES if long else default
