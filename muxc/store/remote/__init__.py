"""The shared cache on object storage (``[cache] remote``, ``--remote URL``): any fsspec URL.

- ``entries``: one result as bytes, with the digest that proves it whole (pure);
- ``fsstore``: entries on an fsspec filesystem — atomic writes, verified reads, one warning and
  local-only when the remote cannot be reached;
- ``layered``: the build's store, local first then remote (read-through), uploading each result
  it computes (write-through);
- ``transfer``: ``muxc push`` / ``muxc pull``.

fsspec (and s3fs, gcsfs, ...) is imported only when a remote is configured: the base install
needs none of it.
"""
