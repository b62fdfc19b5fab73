"""Read the layered config files and merge them over the built-in defaults.

Missing files are fine; an unreadable or invalid one gives diagnostics (with spans into it)
and contributes what could be validated. The result says which files were merged.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from muxc.app.sources import read_source
from muxc.base.userdirs import config_files
from muxc.config.build import build_config, merge
from muxc.config.defaults import builtin_config
from muxc.config.schema import Config
from muxc.config.validate import validate_config
from muxc.diagnostics.sink import DiagnosticSink
from muxc.diagnostics.source import SourceFile


def load_config(
    project: Path,
    environ: Mapping[str, str],
    sink: DiagnosticSink,
    sources: dict[str, SourceFile],
    extra: Path | None = None,
) -> Config:
    """The merged config for a project; every file read is added to ``sources``."""
    layers = [builtin_config()]
    paths = config_files(project, environ) + ([extra] if extra is not None else [])
    for path in paths:
        if path == extra or path.is_file():
            layer = _load_file(path, environ, sink, sources)
            if layer is not None:
                layers.append(layer)
    config = merge(layers)
    validate_config(config, sink)
    return config


def _load_file(path: Path, environ: Mapping[str, str], sink: DiagnosticSink,
               sources: dict[str, SourceFile]) -> Config | None:
    from muxc.syntax import toml_front

    source = read_source(path, sink, sources)
    if source is None:
        return None
    document = toml_front.parse(source.text, source.path, sink)
    if document is None:
        return None
    return build_config(document.root, source.path, sink, environ)
