"""Builds on a Dask cluster (``--executor dask``): query and shell steps run on workers.

The coordinator (the ``muxc build`` process) keeps everything that decides a build: doit orders
the steps by the plan's edges, and keys, early cutoff and the cache (local, then remote) are
decided exactly as in a local build, so a cached step never reaches the cluster. A step that must
run is rendered here and sent as one Dask task (``executor.DaskExecutor``); apply, input and
store steps stay here (they touch the user's tree, terminal or memory).

- ``spec``: what crosses the wire (the build once per worker, one task per step, the outcome);
- ``cluster``: connecting (a scheduler's address, or a ``LocalCluster`` sized to the machine),
  with the checks that refuse a cluster before a step is sent (unreachable, no workers, another
  muxc version);
- ``worker``: the function a worker runs;
- ``executor``: the coordinator's side, behind ``run.executor``'s executor seam.

Dask (``distributed``) is imported only here, and only for ``--executor dask``.
"""
