"""Stage 3, pure: a checked workflow plus its arguments becomes a ``Plan`` (``lower``), pure data
(``plan``) with each step's static cache-key recipe; ``keys`` is how anything muxc caches is hashed.

This file imports nothing: hashing a key (the fingerprints, the plan cache, the no-op fast path)
must not load the lowering and everything it reads.
"""
