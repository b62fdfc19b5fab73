"""Developer tools: generators for docs and the TOML tables (not part of the package)."""
