"""Prometheus metrics in doublewordai llmux's vocabulary (``llmux_*``), on a registry of their own.

Requests by model, backend and status; total latency and time to first token; tokens in and out;
in flight and queue depth per model; switches and their seconds; retries; 429s; parked credentials.
Labels carry model and backend names only: never a key, a prompt or a client address.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("llmux_requests_total", "Requests by model, backend and status",
                                ("model", "backend", "status"), registry=r)
        self.duration = Histogram("llmux_request_duration_seconds", "Total request latency", ("model",),
                                  buckets=BUCKETS, registry=r)
        self.first_token = Histogram("llmux_time_to_first_token_seconds", "Time to the first streamed token",
                                     ("model",), buckets=BUCKETS, registry=r)
        self.tokens = Counter("llmux_tokens_total", "Tokens by model and direction (in, out)",
                              ("model", "direction"), registry=r)
        self.in_flight = Gauge("llmux_model_in_flight", "Requests being answered", ("model",), registry=r)
        self.queue_depth = Gauge("llmux_request_queue_depth", "Requests waiting for a managed backend",
                                 ("model",), registry=r)
        self.switches = Counter("llmux_switch_total", "Managed backend switches", ("to",), registry=r)
        self.switch_seconds = Histogram("llmux_switch_duration_seconds", "Seconds a request waited for its "
                                        "managed backend to be switched in", ("to",), buckets=BUCKETS, registry=r)
        self.retries = Counter("llmux_retries_total", "Upstream attempts beyond the first", ("backend",), registry=r)
        self.rate_limited = Counter("llmux_rate_limited_total", "429 answers given to clients", ("model",),
                                    registry=r)
        self.parked = Gauge("llmux_parked_credentials", "Credentials parked after a 429", ("backend",), registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
