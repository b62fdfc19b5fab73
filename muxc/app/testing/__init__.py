"""``muxc test``: tests for workflows, with scripted answers and assertions.

A test file (``NAME.test.toml``, beside the workflow) names a workflow and holds cases; each
case builds the workflow once in its own temporary project, with every query answered by the
case's scripted answers, and checks assertions on step outputs, saved files and the run itself.

- ``model``: the test file as frozen Structs, every value with its span (the DSL form can
  produce the same model later);
- ``parse``: ``*.test.toml`` text -> model, problems as diagnostics at the exact spot;
- ``answers``: the in-process answer source the build's backends are replaced with;
- ``assertions``: one outcome per assertion, saying expected vs got;
- ``runner``: discovery, isolated projects, parallel runs, results.
"""
