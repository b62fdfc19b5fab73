"""The configuration schema: backends, roles, teams, ecosystems, defaults, budget, resources.

Every key of llm-mux's config is here with llm-mux's meaning and default (see
``../shared/reference/llm-mux-and-lok.md`` §1.1), plus muxc's own keys. Units follow llm-mux:
backend ``timeout`` is seconds, ``retry_delay`` is milliseconds; a duration may also be written
as a string such as ``"90s"`` or ``"2m"``.

These are plain frozen structs of validated values. Where a value came from is kept beside it in
``origin`` (file, table span and the spanned entries), so the checker can point at the config line.
Secrets are never stored expanded: ``api_key`` keeps ``${VAR}`` references; backends resolve them
at request time and nothing else ever sees the value.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from muxc.lang.origin import Origin
from muxc.lang.roles import Execution, RoleConfig


class Price(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """USD per million tokens."""

    input: float = 0.0
    output: float = 0.0
    cache_read: float | None = None
    cache_write: float | None = None


class ManagedConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Lifecycle hooks for a backend muxc starts and stops itself (shell strings, ``sh -c``)."""

    start: str | None = None
    stop: str | None = None
    health: str | None = None
    start_timeout: int | str = 600  # seconds
    stop_timeout: int | str = 120
    health_timeout: int | str = 10
    health_interval: float = 1.0
    slots: int = 1
    adopt_running: bool = True
    keep_running: bool = False
    port: int | None = None  # None: pick a free loopback port
    switch_cost_hint: float | None = None  # seconds, seeds the start-cost estimate
    origin: Origin | None = None


class BackendConfig(msgspec.Struct, frozen=True):
    """One backend. ``command`` is a CLI executable, or the base URL when it starts with http(s)://."""

    name: str
    command: str = ""
    args: list[str] = []
    model: str | None = None
    api_key: str | None = None  # literal or "${VAR}" / "${VAR:-default}"; resolved only when sending
    api_key_env: str | None = None  # claude-api: env var holding the key (default ANTHROPIC_API_KEY)
    type: Literal["cli", "http", "claude-api", "local"] | None = None  # local: the embedded model
    enabled: bool = True
    timeout: int | str = 300  # seconds for the whole call
    max_retries: int = 3  # retries after the first attempt
    retry_delay: int | str = 1000  # ms, base of the exponential backoff
    retry_rate_limit: bool = True
    retry_timeout: bool = False
    env: list[list[str]] | dict[str, str] = []  # llm-mux: [["K", "V"], ...]; a table works too
    # muxc's own keys
    protocol: Literal["openai", "anthropic", "responses"] | None = None  # responses: OpenAI's Responses API
    base_url: str | None = None  # alternative spelling of an HTTP `command`
    stdin: bool | None = None  # CLI: prompt on stdin (default: when the prompt is large)
    max_concurrent: int | None = None  # in-flight calls across the whole build
    credentials: list[str] = []  # env var names ("env:NAME" or "NAME"); failover order
    params: dict[str, Any] = {}  # temperature, max_tokens, top_p, ... sent with every request
    reads_project: bool | None = None  # agentic CLI reads the tree (default: true for CLI)
    connect_timeout: int | str = 10  # seconds
    idle_timeout: int | str = 120  # seconds of silence between streamed chunks
    max_rate_limit_wait: int | str = 900  # seconds to wait when every credential is parked
    stream: bool = True  # HTTP: stream the answer (progress, idle timeout)
    output_format: Literal["text", "codex-json"] | None = None  # None: codex --json is detected
    price: Price | None = None
    headers: dict[str, str] = {}
    managed: ManagedConfig | None = None
    origin: Origin | None = None


class RoleOverride(msgspec.Struct, frozen=True):
    backends: list[str]
    execution: Execution | None = None
    min_success: int | None = None
    origin: Origin | None = None


class TeamConfig(msgspec.Struct, frozen=True):
    name: str
    description: str = ""
    detect: list[str] = []
    verify: str | None = None
    roles: dict[str, RoleOverride] = {}
    origin: Origin | None = None


class ProjectConfig(msgspec.Struct, frozen=True):
    name: str
    path: str
    description: str | None = None
    type: str | None = None
    depends_on: list[str] = []
    tags: list[str] = []
    origin: Origin | None = None


class EcosystemConfig(msgspec.Struct, frozen=True):
    name: str
    description: str = ""
    knowledge: list[str] = []
    projects: dict[str, ProjectConfig] = {}
    origin: Origin | None = None


class Defaults(msgspec.Struct, frozen=True):
    timeout: int | str = 300  # seconds
    parallel: bool = False
    max_concurrent: int | None = None
    command_wrapper: str | None = None  # e.g. "nix-shell --run '{cmd}'" for shell steps and verify
    jobs: int | None = None  # default -j
    origin: Origin | None = None


class Budget(msgspec.Struct, frozen=True):
    max_usd: float | None = None
    max_calls: int | None = None
    origin: Origin | None = None


class Resources(msgspec.Struct, frozen=True):
    slots: int = 1  # managed backends resident at once (sum of their `slots`)
    origin: Origin | None = None


class ServeConfig(msgspec.Struct, frozen=True):
    """``muxc serve``: the HTTP gateway (docs/serve.md)."""

    host: str = "127.0.0.1"
    port: int = 8080
    api_keys: list[str] = []  # "${VAR}" references; required for a non-loopback host
    routes: dict[str, str] = {}  # model-name glob -> role or backend ("claude-*" = "coder")
    aliases: dict[str, str] = {}  # model name -> role or backend
    max_body: int = 32 * 1024 * 1024  # bytes; a larger request body is a 413
    max_cost_per_day: float | None = None  # USD over the served calls of the UTC day; then 429
    max_wait: int | str = 30  # seconds a queued request may wait before its model is switched in
    ttl: int | str | None = None  # seconds an idle managed backend stays resident (None: until exit)
    drain_timeout: int | str = 30  # seconds SIGINT/SIGTERM waits for in-flight requests
    default_max_tokens: int = 4096  # sent to an Anthropic backend when the client and backend params set none
    store_ttl: int | str = "7d"  # how long a stored Responses API response is kept (previous_response_id)
    max_stored: int = 10_000  # stored responses kept at most; the oldest go first
    origin: Origin | None = None


class CacheConfig(msgspec.Struct, frozen=True):
    salt: str = ""  # change to invalidate every cached step deliberately
    remote: str | None = None  # a shared cache: any fsspec URL (s3://bucket/muxc, file:///shared/muxc)
    push: bool = True  # upload each result built (false: read-only, as for CI)
    origin: Origin | None = None


class ExecutorConfig(msgspec.Struct, frozen=True):
    """Where query and shell steps run (docs/distributed.md)."""

    type: Literal["local", "dask"] = "local"
    scheduler: str | None = None  # dask: tcp://HOST:8786; none: a LocalCluster sized to the machine
    env: list[str] = []  # dask: the only environment variables workers get from this machine
    origin: Origin | None = None


class Config(msgspec.Struct, frozen=True):
    """The merged configuration a build or check sees."""

    defaults: Defaults = Defaults()
    backends: dict[str, BackendConfig] = {}
    roles: dict[str, RoleConfig] = {}
    teams: dict[str, TeamConfig] = {}
    ecosystems: dict[str, EcosystemConfig] = {}
    budget: Budget = Budget()
    resources: Resources = Resources()
    cache: CacheConfig = CacheConfig()
    executor: ExecutorConfig = ExecutorConfig()
    serve: ServeConfig = ServeConfig()
    files: tuple[str, ...] = ()  # the files merged, lowest precedence first
