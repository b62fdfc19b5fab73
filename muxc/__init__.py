"""muxc: a compiler and build tool for multi-step LLM workflows.

The pipeline is ``syntax`` (text to AST) -> ``check`` (names, types, templates, graph) ->
``compile`` (a pure plan) -> ``run`` (doit, shell, backends, stores). Imports are lazy so
``muxc check`` starts fast.
"""

__version__ = "0.1.0"
