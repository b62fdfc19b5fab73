"""muxc's own template filters, by name: the one table the checker and the renderer share.

The checker accepts these (plus Jinja's built-ins); ``run.templating.FILTERS`` implements exactly
these (a test holds them equal). ``first`` and ``last`` are Jinja's, listed for the reader.
"""

from __future__ import annotations

MUXC_FILTERS = frozenset({"shell_escape", "raw_shell", "json", "join", "lines", "trim", "default", "d", "strftime"})
DOCUMENTED_FILTERS = (MUXC_FILTERS - {"d"}) | {"first", "last"}
