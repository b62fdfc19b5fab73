"""The errors a face may meet when it uses ``app``: the build state is locked or unusable."""

from __future__ import annotations

from muxc.store.statedir import LockHeld, StateError

__all__ = ["LockHeld", "StateError"]
