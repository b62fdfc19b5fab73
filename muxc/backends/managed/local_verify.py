"""Make sure the GGUF file the local server is about to load is the model it claims to be.

- ``assemble`` joins a built-in model's chunk packages into its file, hashing as it writes, and
  moves the file into place only when the hash is the pinned one. It writes a temporary file and
  renames it, so two servers starting at once cannot leave a half-written model.
- ``verify_builtin`` checks a built-in model's file before every load: size and sha256 against
  the pins in ``local_models``, then the GGUF metadata (architecture, name, quantisation, chat
  template). A damaged cached file is reassembled once from the installed packages; packages that
  give the wrong bytes are refused (``ModelError``), naming what was expected, what was found and
  what to do.
- ``check_own`` checks a GGUF file the user configured: it must be a GGUF file and have a chat
  template, or be given one.

Hashing the 0.5 GB default takes about a quarter of a second, so it is done at every start
rather than trusted from a marker file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from muxc.backends.managed.local_gguf import GGUFError, file_type_name, read_metadata
from muxc.backends.managed.local_models import ModelSpec

BLOCK = 4 * 1024 * 1024


class ModelError(Exception):
    pass


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


# -- the built-in models ------------------------------------------------------------------------


def chunk_paths(spec: ModelSpec) -> list[Path]:
    """Where the installed chunk packages keep their parts (their code is never imported)."""
    paths = []
    for module, relative in spec.chunks:
        found = importlib.util.find_spec(module)
        if found is None or not found.submodule_search_locations:
            raise ModelError(f"the package {module!r} of {spec.label} is not installed; install the muxc[{spec.extra}] "
                             "extra")
        paths.append(Path(next(iter(found.submodule_search_locations))) / relative)
    return paths


def assemble(spec: ModelSpec, target: Path, reinstall: str) -> None:
    """Join ``spec``'s chunks into ``target``; raise ``ModelError`` if they are not the pinned bytes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    digest, size = hashlib.sha256(), 0
    try:
        with partial.open("wb") as out:
            for chunk in chunk_paths(spec):
                with chunk.open("rb") as stream:
                    while block := stream.read(BLOCK):
                        digest.update(block)
                        size += len(block)
                        out.write(block)
        got = digest.hexdigest()
        if got != spec.sha256 or size != spec.size:
            raise ModelError(mismatch(spec, "the installed packages join into", got, size, reinstall))
        os.replace(partial, target)
    except OSError as error:
        raise ModelError(f"could not assemble {spec.label} into {target}: {error}") from None
    finally:
        partial.unlink(missing_ok=True)


def verify_builtin(spec: ModelSpec, path: Path, reinstall: str, log: Callable[[str], None]) -> dict[str, Any]:
    """Assemble ``path`` if it is missing, check it, and return its metadata."""
    if not path.is_file():
        log(f"assembling {spec.label} into {path} (once)")
        assemble(spec, path, reinstall)
    got, size = sha256_of(path), path.stat().st_size
    if got != spec.sha256 or size != spec.size:
        log(mismatch(spec, f"{path} is", got, size, reinstall) + "; assembling it again from the packages")
        assemble(spec, path, reinstall)
    try:
        metadata = read_metadata(path)
    except GGUFError as error:
        raise ModelError(str(error)) from None
    problems = metadata_problems(spec, metadata)
    if problems:
        raise ModelError(f"{path} has the pinned sha256 but its metadata is not {spec.label}'s: "
                         f"{'; '.join(problems)}. This is a bug in muxc's model table; report it")
    return metadata


def mismatch(spec: ModelSpec, what: str, got: str, size: int, reinstall: str) -> str:
    return (f"{what} sha256 {got} ({size} bytes), expected {spec.sha256} ({spec.size} bytes) for {spec.label}: "
            f"the files are damaged or are not the model muxc pins, and muxc will not load them. Reinstall the "
            f"model's packages: {reinstall}")


def metadata_problems(spec: ModelSpec, metadata: dict[str, Any]) -> list[str]:
    """How ``metadata`` differs from what ``spec`` says the model is (empty if it does not)."""
    expected = {"general.architecture": spec.architecture, "general.name": spec.general_name,
                "general.file_type": spec.file_type}
    problems = [f"{key} is {_shown(key, metadata.get(key))}, expected {_shown(key, value)}"
                for key, value in expected.items() if metadata.get(key) != value]
    template = metadata.get("tokenizer.chat_template")
    if not isinstance(template, str) or spec.template_marker not in template:
        problems.append(f"its chat template is not the expected one (no {spec.template_marker!r})")
    return problems


def _shown(key: str, value: Any) -> str:
    return file_type_name(value) if key == "general.file_type" else repr(value)


# -- a model of the user's own ------------------------------------------------------------------


def check_own(path: Path, chat_template: str | None) -> dict[str, Any]:
    """The metadata of a configured GGUF file; ``ModelError`` if it cannot be served as it is."""
    if not path.is_file():
        raise ModelError(f"model file {str(path)!r} not found")
    try:
        metadata = read_metadata(path)
    except GGUFError as error:
        raise ModelError(str(error)) from None
    if not chat_template and not isinstance(metadata.get("tokenizer.chat_template"), str):
        raise ModelError(f"{path} has no chat template (a base model, or one converted without it), so muxc "
                         "cannot turn messages into its prompt. Name llama.cpp's built-in template for it, e.g. "
                         'args = ["--chat-template", "chatml"] (or "gemma", "llama3", ...), in [backends.local]')
    return metadata


def describe(metadata: dict[str, Any]) -> str:
    """One line for the server's log: what the file says it is."""
    return (f"{metadata.get('general.name', '?')} ({metadata.get('general.architecture', '?')}, "
            f"{file_type_name(metadata.get('general.file_type'))})")
