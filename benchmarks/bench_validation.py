"""Throughput and peak memory of ``mockft.validation`` on a large chat training file.

    python benchmarks/bench_validation.py [--mb 100] [--seed 0] [--keep DIR]

Writes a chat JSONL file of about ``--mb`` megabytes into a temporary directory (generated on
the fly, seeded: system prompts from a small pool as real files have; user and assistant
turns are runs of English prose taken at random from the Python reference topics that ship
with CPython; some multi-turn with weights, some calling a tool), then runs, each in a fresh
Python process:

- ``json.loads``: a bare ``json.loads`` per line, the baseline;
- ``validate_file``: mockft's full validation (every check, exact token counts, duplicates)
  for gpt-4o-mini, reading the file in 1 MiB chunks as the server does.

It prints each pass's time, MB/s, ratio to the baseline and the process's peak RSS
(``ru_maxrss``), next to the RSS of a process that only imported the same modules. Not part of
the test suite: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Final

DEFAULT_MB: Final = 100
BYTES_PER_MB: Final = 1_000_000
CHUNK_SIZE: Final = 1024 * 1024
SYLLABLES: Final = (
    "ka ri to na mi su re lo ve an ex on ter pla stra ble ing ment com pro ta de "
    "qui zor fel gan tho wen ly ous ic al"
).split()
FALLBACK_CORPUS_WORDS: Final = 200_000
SYSTEM_PROMPTS: Final = 12
USER_WORDS: Final = (8, 60)
ASSISTANT_WORDS: Final = (20, 160)
MULTI_TURN_SHARE: Final = 0.2
TOOL_SHARE: Final = 0.1
TARGET_MODEL: Final = "gpt-4o-mini"

TOOLS: Final = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look a term up in the knowledge base",
            "parameters": {
                "type": "object",
                "properties": {"term": {"type": "string"}},
                "required": ["term"],
            },
        },
    }
]

# Each pass runs in its own interpreter; it prints "<seconds> <ru_maxrss in KiB>".
BASELINE_PASS: Final = """
import json, resource, sys, time
path = sys.argv[1]
start = time.perf_counter()
with open(path, "rb") as f:
    for line in f:
        json.loads(line)
elapsed = time.perf_counter() - start
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
VALIDATION_PASS: Final = """
import resource, sys, time
from mockft import tokens, validation
from mockft.catalog import load_catalog
path, model, chunk_size = sys.argv[1], sys.argv[2], int(sys.argv[3])
catalog = load_catalog()
snapshot = catalog.resolve(model).id
spec = catalog.fine_tuning(model)
tokens.get_counter(tokens.encoding_for_model(snapshot))  # load the vocabulary first

def chunks():
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            yield chunk

start = time.perf_counter()
report = validation.validate_file(chunks(), model=snapshot, model_spec=spec)
elapsed = time.perf_counter() - start
assert report.valid, report.error
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, report.n_examples,
      report.tokens.total)
"""
IMPORT_ONLY_PASS: Final = """
import resource
from mockft import tokens, validation
from mockft.catalog import load_catalog
catalog = load_catalog()
tokens.get_counter(tokens.encoding_for_model(catalog.resolve("gpt-4o-mini").id))
print(0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _corpus(rng: random.Random) -> list[str]:
    """English words in reading order: the Python reference topics that ship with CPython
    (``pydoc_data``); made-up syllable words where that is missing."""
    try:
        from pydoc_data import topics
    except ImportError:
        return [
            "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4)))
            for _ in range(FALLBACK_CORPUS_WORDS)
        ]
    return " ".join(topics.topics.values()).split()


def _passage(rng: random.Random, corpus: list[str], bounds: tuple[int, int]) -> str:
    """A run of consecutive corpus words: natural text, rarely repeated."""
    count = rng.randint(*bounds)
    start = rng.randrange(len(corpus) - count)
    return " ".join(corpus[start : start + count])


def generate(path: Path, target_bytes: int, seed: int) -> int:
    """Write a chat file of at least ``target_bytes``; return its number of lines."""
    rng = random.Random(seed)
    corpus = _corpus(rng)
    systems = [_passage(rng, corpus, (10, 40)) for _ in range(SYSTEM_PROMPTS)]
    written = lines = 0
    with open(path, "w", encoding="utf-8") as out:
        while written < target_bytes:
            messages: list[dict[str, object]] = [
                {"role": "system", "content": rng.choice(systems)},
                {"role": "user", "content": _passage(rng, corpus, USER_WORDS)},
            ]
            example: dict[str, object] = {"messages": messages}
            if rng.random() < TOOL_SHARE:
                term = rng.choice(corpus)
                call = {
                    "id": f"call_{lines}",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": json.dumps({"term": term})},
                }
                messages.append({"role": "assistant", "tool_calls": [call]})
                messages.append({"role": "tool", "tool_call_id": f"call_{lines}", "content": term})
                example["tools"] = TOOLS
            elif rng.random() < MULTI_TURN_SHARE:
                messages.append(
                    {
                        "role": "assistant",
                        "content": _passage(rng, corpus, ASSISTANT_WORDS),
                        "weight": 0,
                    }
                )
                messages.append({"role": "user", "content": _passage(rng, corpus, USER_WORDS)})
            messages.append(
                {"role": "assistant", "content": _passage(rng, corpus, ASSISTANT_WORDS)}
            )
            line = json.dumps(example, ensure_ascii=False) + "\n"
            out.write(line)
            written += len(line.encode("utf-8"))
            lines += 1
    return lines


def run(code: str, *args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], check=True, capture_output=True, text=True
    )
    return done.stdout.split()


def measure(mb: float, seed: int = 0) -> dict[str, float]:
    """Generate the file, run both passes; MB/s, their ratio and peak RSS (MB)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench_chat.jsonl"
        generate(path, int(mb * BYTES_PER_MB), seed)
        size_mb = path.stat().st_size / BYTES_PER_MB
        base_seconds, _ = run(BASELINE_PASS, str(path))[:2]
        seconds, rss, _, _ = run(VALIDATION_PASS, str(path), TARGET_MODEL, str(CHUNK_SIZE))
        _, import_rss = run(IMPORT_ONLY_PASS)
    return {
        "size_mb": size_mb,
        "json_mb_s": size_mb / float(base_seconds),
        "validation_mb_s": size_mb / float(seconds),
        "rss_mb": int(rss) / 1024,
        "import_rss_mb": int(import_rss) / 1024,
    }


def figures(quick: bool) -> list[Any]:
    """For `python -m benchmarks`."""
    from benchmarks.__main__ import Figure

    m = measure(20 if quick else DEFAULT_MB)
    ratio = m["validation_mb_s"] / m["json_mb_s"]
    size = f"{m['size_mb']:.0f} MB chat file"
    return [
        Figure(
            f"validation ({size}): speed vs json.loads per line",
            ratio,
            "x",
            ">= 0.25",
            ratio >= 0.25,
            f"{m['validation_mb_s']:.1f} vs {m['json_mb_s']:.1f} MB/s; exact token counts",
        ),
        Figure(
            f"validation ({size}): peak RSS",
            m["rss_mb"],
            "MB",
            "< 100",
            m["rss_mb"] < 100,
            f"of which {m['import_rss_mb']:.0f} MB is imports + tokenizer vocabulary",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=DEFAULT_MB, help="file size in MB")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="write the file here and keep it")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = (args.keep or Path(tmp)) / "bench_chat.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        n_lines = generate(path, int(args.mb * BYTES_PER_MB), args.seed)
        size_mb = path.stat().st_size / BYTES_PER_MB

        base_seconds, base_rss = run(BASELINE_PASS, str(path))[:2]
        seconds, rss, n_examples, total_tokens = run(
            VALIDATION_PASS, str(path), TARGET_MODEL, str(CHUNK_SIZE)
        )
        _, import_rss = run(IMPORT_ONLY_PASS)

    base_rate = size_mb / float(base_seconds)
    rate = size_mb / float(seconds)
    print(f"file: {size_mb:.1f} MB, {n_lines:,} lines, {int(total_tokens):,} tokens ({n_examples})")
    print(f"{'pass':<28}{'seconds':>9}{'MB/s':>9}{'x json':>9}{'peak RSS MB':>13}")
    rows = (
        ("json.loads per line", float(base_seconds), base_rate, int(base_rss)),
        ("mockft.validation", float(seconds), rate, int(rss)),
    )
    for name, elapsed, mb_s, peak in rows:
        print(f"{name:<28}{elapsed:>9.2f}{mb_s:>9.1f}{mb_s / base_rate:>9.2f}{peak / 1024:>13.1f}")
    print(
        f"{'(imports + vocabulary only)':<28}{'':>9}{'':>9}{'':>9}{int(import_rss) / 1024:>13.1f}"
    )


if __name__ == "__main__":
    main()
