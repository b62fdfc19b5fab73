"""LLM backends: how a step's prompt becomes an answer.

- ``base``: the contract (requests, completions, usage, ``BackendError``, ``Cancel``, ``Backend``).
- ``registry``: a backend from its config, and the build-wide ``BackendPool``.
- ``roles``: resolving a role (with a team) and running it: first, fallback, parallel.
- ``http`` with ``openai_protocol`` / ``anthropic_protocol``: HTTP backends; ``sse`` parses
  streams, ``netio`` makes reads interruptible, ``credentials`` picks and parks API keys,
  ``retry`` decides waits, ``slots`` bounds concurrency.
- ``cli``: command-line backends (claude -p, codex exec, any executable).
- ``calls``: the record of each call handed to the LLM log; ``masking``: the one secret filter.
- ``doctor``: is each backend usable; ``identity``: what a backend's answers depend on.

Import the submodule you need; this package imports nothing, so ``muxc check`` stays fast.
"""
