"""Pass: each ``output_schema`` is a schema muxc can check answers against."""

from __future__ import annotations

from muxc.check.state import CheckState


def check_schemas(state: CheckState) -> None:
    from muxc.lang.outschema import schema_errors

    for step in state.workflow.steps:
        if step.output_schema is None or step.origin is None:
            continue
        span = step.origin.value_span("output_schema")
        for problem in schema_errors(step.output_schema):
            state.report("invalid-output-schema", f"output_schema of `{step.name}`: {problem}", span,
                         "in this schema", help="types are object, array, string, number, integer, boolean; "
                         "objects list `properties` and `required`, arrays give `items`")


def check_cache_policies(state: CheckState) -> None:
    from muxc.lang.durations import MAX_CACHE_MS, DurationError, DurationRangeError, to_ms

    for step in state.workflow.steps:
        if step.cache in (None, "forever", "never") or step.origin is None:
            continue
        try:
            to_ms(step.cache, "ms", MAX_CACHE_MS)
        except DurationRangeError as error:
            state.report("invalid-cache-policy", f"invalid `cache` of `{step.name}`: {error}",
                         step.origin.value_span("cache"), "too long", help='write "forever" for no expiry')
        except DurationError:
            state.report("invalid-cache-policy", f"`cache = {step.cache!r}` is not a cache policy",
                         step.origin.value_span("cache"), "not forever, never or a duration",
                         help='write "forever", "never", or a duration such as "12h" or "7d"')
