"""Where a model's answer may write: one rule for apply edits and saved outputs.

``rules`` is the rule itself, pure (``muxc check`` asks it of save paths); ``resolve`` asks it of
a path on disk, before and after symlinks (the edit engine and saved outputs write only what it
accepts). Both import cheaply: building a workflow with saved files does not load the edit engine.
"""
