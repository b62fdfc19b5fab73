"""Parse time of muxc.syntax.toml against tomllib on a generated 1,000-step workflow (~440 KB).

Run: ``.venv/bin/python benchmarks/bench_toml.py [--steps N] [--repeat R] [--lark]``. Prints
figures; asserts nothing (timings belong here, not in the tests). Target: ``muxc.syntax.toml.parse``
within 0.12 s. ``--lark`` also times Lark's own LALR runtime on the same grammar (building a
tree, no spans or checks), which is why muxc.syntax.toml runs Lark's tables in its own loop.
"""

from __future__ import annotations

import argparse
import time
import tomllib

PROMPT_LINES = (
    "You are reviewing part {i} of a large code base. Read the diff and the notes below,",
    "then list every bug you find as one bullet: file:line, severity, and the fix.",
    'Say "none" if the diff is clean; do not invent problems.',
    "",
    "{{{{ steps.{prev}.output }}}}",
)


def workflow_text(steps: int) -> str:
    """A llm-mux style workflow of ``steps`` ``[[steps]]`` tables with multi-line prompts."""
    parts = [
        "# A generated workflow for benchmarking muxc.syntax.toml.\n"
        'name = "bench"\ndescription = "A long chain of review steps"\n\n'
        '[args.outdir]\ndefault = "docs/review"\ndescription = "where the reports go"\n'
    ]
    for i in range(steps):
        prev = f"review_{max(i - 1, 0):04d}"
        prompt = "\n".join(line.format(i=i, prev=prev) for line in PROMPT_LINES)
        parts.append(
            f"\n# Step {i}: review one part.\n[[steps]]\n"
            f'name = "review_{i:04d}"\ntype = "query"\nrole = "analyzer"  # see [roles]\n'
            f'depends_on = ["{prev}"]\noutput = "{{{{ args.outdir }}}}/review_{i:04d}.md"\n'
            f'prompt = """\n{prompt}\n"""\n'
        )
    return "".join(parts)


def best_of(repeat: int, parse, text: str) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        parse(text)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--lark", action="store_true", help="also time Lark's own parser on the grammar")
    args = parser.parse_args()

    import muxc.syntax.toml

    text = workflow_text(args.steps)
    assert muxc.syntax.toml.loads(text) == tomllib.loads(text)
    print(f"document: {args.steps} steps, {len(text) / 1024:.0f} KiB, {text.count(chr(10))} lines")
    print(f"best of {args.repeat}:")
    contenders = [
        ("tomllib.loads", tomllib.loads),
        ("muxc.syntax.toml.parse", muxc.syntax.toml.parse),
        ("muxc.syntax.toml.loads", muxc.syntax.toml.loads),
    ]
    if args.lark:
        contenders.append(("lark (tree only)", lark_parser().parse))
    for name, parse in contenders:
        print(f"  {name:<18} {best_of(args.repeat, parse, text) * 1000:7.1f} ms")


def lark_parser():
    from lark import Lark

    from muxc.base.resources import grammar_text

    return Lark(grammar_text("toml.lark"), parser="lalr", lexer="contextual")


if __name__ == "__main__":
    main()
