"""The built-in configuration: the embedded ``local`` backend and the roles that route to it.

With no configuration at all, every built-in role is served by ``local`` (llama.cpp running a
small model from PyPI, the ``muxc[local]`` extra), so a fresh install can build the stdlib with
no keys and no network. Any user or project config replaces these entries by name.
"""

from __future__ import annotations

from muxc.config.schema import BackendConfig, Config, TeamConfig
from muxc.lang.roles import RoleConfig

BUILTIN_ROLES: dict[str, str] = {
    "default": "general questions",
    "analyzer": "code analysis: audits, reviews, bug hunts",
    "synthesizer": "summaries and reports built from other steps",
    "coder": "writing code and edits",
    "reviewer": "reviewing changes",
    "summarizer": "short summaries",
    "ecosystem_analyzer": "facts about projects and how they relate",
    "planner": "plans and task breakdowns",
    "quick": "fast, cheap answers",
}

LOCAL_BACKEND = "local"

# (name, description, files that identify it, the command that checks edits)
BUILTIN_TEAMS = (
    ("rust", "Rust projects", ["Cargo.toml"], "cargo test --quiet"),
    ("go", "Go projects", ["go.mod"], "go test ./..."),
    ("node", "JavaScript and TypeScript projects", ["package.json"], "npm test --silent"),
    ("python", "Python projects", ["pyproject.toml", "setup.py", "setup.cfg"], "python -m pytest -q"),
    ("ruby", "Ruby projects", ["Gemfile"], "bundle exec rake test"),
)


def builtin_config() -> Config:
    local = BackendConfig(name=LOCAL_BACKEND, type="local", protocol="openai", timeout=600, max_concurrent=1)
    roles = {name: RoleConfig(name=name, backends=[LOCAL_BACKEND], description=doc) for name, doc in BUILTIN_ROLES.items()}
    teams = {name: TeamConfig(name=name, description=doc, detect=detect, verify=verify)
             for name, doc, detect, verify in BUILTIN_TEAMS}
    return Config(backends={LOCAL_BACKEND: local}, roles=roles, teams=teams, files=("<built-in>",))
