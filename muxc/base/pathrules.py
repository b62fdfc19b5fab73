"""The confinement rule, by spelling: may a path a model's answer decides be written?

A model's answer names files in two ways: the paths of its edits (apply steps), and the ``save``
targets of steps (``> "PATH"``, rendered with args a caller may set). Both obey ``refusal`` here;
``muxc.base.confine`` asks it again of the path symlinks lead to, and ``muxc check`` asks
``template_refusal`` of a save path's literal part.

The rules, in order, each with its own message:

- no empty path, no NUL, no path naming the root itself; no absolute (``/x``, ``C:\\x``) or
  home-relative (``~``) path, and no ``..`` component at all (even ``a/../b``: through a symlinked
  ``a`` it leads elsewhere);
- never, whatever the step says: anything under ``.git``, ``.muxc`` or ``.llm-mux`` at any depth
  (git runs what its config and hooks name: ``core.fsmonitor`` runs on the next ``git status``;
  the other two hold muxc's and llm-mux's config, state and workflows);
- only with ``allow_tool_files = true`` on the step: ``TOOL_FILES``, the files that make a tool
  run code when the user does something ordinary (enters the directory, commits, opens the
  editor, pushes, installs), at any depth.

Components compare as the file systems that matter see them: case-insensitively, ignoring the
code points HFS+ ignores, trailing dots and spaces (Windows) and an NTFS stream suffix
(``.git::$INDEX_ALLOCATION``), so ``.GIT``, ``.git.`` and ``.g\\u200cit`` are all ``.git``.

Invariant: pure (strings in, a refusal out). A refusal carries the offending characters' range in
the path text, so ``muxc check`` can point at them.
"""

from __future__ import annotations

import re
from typing import NamedTuple

ALLOW_FLAG = "allow_tool_files"

PROTECTED = {
    ".git": "files under .git/ are never written (git runs the commands its config and hooks name)",
    "git~1": "files under .git/ are never written (GIT~1 is its short name on Windows)",
    ".muxc": "files under .muxc/ (muxc's config, state and workflows) are never written",
    ".llm-mux": "files under .llm-mux/ (llm-mux's config and workflows) are never written",
}

# (pattern, what runs it). A pattern ending in "/" is a directory: everything under it.
TOOL_FILES: tuple[tuple[str, str], ...] = (
    (".envrc", "direnv runs it when you enter the directory"),
    (".env", "dotenv loaders in pipenv, docker compose and editors put it in commands' environment"),
    (".github/workflows/", "GitHub Actions runs it on push"),
    (".github/actions/", "GitHub Actions runs it from workflows"),
    (".gitlab-ci.yml", "GitLab CI runs it on push"),
    (".circleci/", "CircleCI runs it on push"),
    (".gitmodules", "git fetches and checks out the repositories it names"),
    (".gitattributes", "git passes files through the filter and diff programs it names"),
    (".githooks/", "git runs hooks from it when core.hooksPath points there"),
    (".husky/", "husky installs it as git hooks"),
    (".pre-commit-config.yaml", "pre-commit runs its hooks on commit"),
    ("lefthook.yml", "lefthook runs its hooks on commit"),
    (".lefthook.yml", "lefthook runs its hooks on commit"),
    (".vscode/", "VS Code runs its tasks and the programs its settings name"),
    (".idea/", "JetBrains IDEs run the configurations it holds"),
    (".devcontainer/", "dev containers run its commands when they are created"),
    (".npmrc", "npm runs scripts with the shell and node options it names"),
    (".yarnrc", "yarn reads its settings from it"),
    (".yarnrc.yml", "yarn runs the yarnPath it names"),
    (".cargo/config", "cargo runs the runners and wrappers it names"),
    (".cargo/config.toml", "cargo runs the runners and wrappers it names"),
    ("mise.toml", "mise runs its hooks when you enter the directory"),
    (".mise.toml", "mise runs its hooks when you enter the directory"),
)

_HFS_IGNORED = re.compile("[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]")
_DRIVE = re.compile(r"^([A-Za-z]:)?[\\/]")
_TEMPLATE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)


# What a refusal is about; only TOOL_FILE is lifted by ``allow_tool_files``.
NOT_A_FILE, OUTSIDE, PROTECTED_PLACE, TOOL_FILE = "not a file", "outside", "protected", "tool file"


class Refusal(NamedTuple):
    rule: str  # why, as a clause: "absolute paths are not allowed; ..."
    start: int  # the offending characters in the path text
    end: int
    kind: str


class _Part(NamedTuple):
    key: str | None  # the component as file systems compare it; None: not known (a template)
    start: int
    end: int


def refusal(path: str, allow_tool_files: bool = False) -> Refusal | None:
    """The rule ``path`` (relative to the project root, ``/``-separated) breaks, if any."""
    return _refusal(path, (), allow_tool_files)


def template_refusal(template: str, allow_tool_files: bool = False) -> Refusal | None:
    """The rule every rendering of ``template`` breaks, decided by its literal text alone."""
    holes = tuple((m.start(), m.end()) for m in _TEMPLATE.finditer(template))
    return _refusal(template, holes, allow_tool_files)


def _refusal(text: str, holes: tuple[tuple[int, int], ...], allow_tool_files: bool) -> Refusal | None:
    problem = _spelling(text, holes)
    if problem is not None:
        return problem
    parts = _parts(text, holes)
    if not parts:
        return Refusal("it names the project root, not a file", 0, len(text), NOT_A_FILE)
    return _protected(parts) or (None if allow_tool_files else _tool_file(parts))


def _spelling(text: str, holes: tuple[tuple[int, int], ...]) -> Refusal | None:
    """Empty, NUL, absolute, home-relative: what the characters themselves decide."""
    if not holes and not text.strip():
        return Refusal("the path is empty", 0, len(text), NOT_A_FILE)
    if "\0" in text:
        at = text.index("\0")
        return Refusal("it contains a NUL character", at, at + 1, NOT_A_FILE)
    starts_literal = not holes or holes[0][0] > 0
    if starts_literal and (_DRIVE.match(text) or text.startswith("/")):
        return Refusal("absolute paths are not allowed; give a path relative to the project root", 0, len(text),
                       OUTSIDE)
    if starts_literal and text.startswith("~"):
        return Refusal("home-relative paths are not allowed; give a path relative to the project root", 0,
                       len(text), OUTSIDE)
    return None


def _parts(text: str, holes: tuple[tuple[int, int], ...]) -> list[_Part]:
    """The ``/``-separated components; one that a template touches is unknown."""
    parts, start = [], 0
    for end in [*_separators(text, holes), len(text)]:
        touched = any(h_start <= end and h_end >= start for h_start, h_end in holes)
        parts.append(_Part(None if touched else _key(text[start:end]), start, end))
        start = end + 1
    return [part for part in parts if part.key != ""]  # "a//b" and "./a" name a/b and a


def _separators(text: str, holes: tuple[tuple[int, int], ...]) -> list[int]:
    return [i for i, char in enumerate(text) if char == "/" and not any(s <= i < e for s, e in holes)]


def _key(component: str) -> str:
    if component in ("..", "."):
        return component if component == ".." else ""
    key = _HFS_IGNORED.sub("", component).casefold().partition(":")[0]
    return key.rstrip(" .")


def _protected(parts: list[_Part]) -> Refusal | None:
    for part in parts:
        if part.key == "..":
            return Refusal('paths may not contain ".." components', part.start, part.end, OUTSIDE)
        if part.key in PROTECTED:
            return Refusal(PROTECTED[part.key], part.start, part.end, PROTECTED_PLACE)
    return None


def _tool_file(parts: list[_Part]) -> Refusal | None:
    keys = [part.key for part in parts]
    for pattern, why in TOOL_FILES:
        wanted = pattern.rstrip("/").split("/")
        for at in range(len(keys) - len(wanted) + 1):
            if keys[at:at + len(wanted)] == wanted:
                rule = f"{pattern} is tool metadata that can run code ({why}); set {ALLOW_FLAG} = true " \
                       "on the step to write it anyway"
                return Refusal(rule, parts[at].start, parts[at + len(wanted) - 1].end, TOOL_FILE)
    return None
