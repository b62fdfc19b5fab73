"""``muxc serve``: an OpenAI- and Anthropic-compatible HTTP gateway over muxc's roles, backends and
managed models (docs/serve.md). A face beside ``cli``: it reaches the rest of muxc only through
``muxc.app.gateway``; the clients' wire formats, the translation between them, the switch scheduler
and the metrics are its own.
"""
