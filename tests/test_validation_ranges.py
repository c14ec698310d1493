"""A file validated in two byte ranges (two processes) reports exactly what one pass does."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from mockft import validation
from mockft.validation import ranges, reader
from tests.test_validation import CASE_IDS, CASES, CATALOG, Case, chat, jsonl

MAX_CUTS_PER_FILE = 40


def settings(model: str, method: str = "supervised") -> dict[str, Any]:
    entry = CATALOG.resolve(model)
    spec = CATALOG.fine_tuning(model)
    assert entry is not None and spec is not None
    return {
        "model": entry.id,
        "model_spec": spec,
        "method": method,
        "purpose": validation.TRAINING_FILE,
        "source": "f",
        "encoding": None,
    }


def one_pass(path: Path, given: dict[str, Any]) -> str:
    report = validation.validate_file([path.read_bytes()], **given)
    return json.dumps(report.to_dict())


def line_starts(data: bytes) -> list[int]:
    """Every place the file can be cut: right after each newline but the last."""
    return [i + 1 for i, byte in enumerate(data[:-1]) if byte == ord("\n")]


def assert_every_cut_agrees(path: Path, given: dict[str, Any]) -> None:
    data = path.read_bytes()
    expected = one_pass(path, given)
    cuts = line_starts(data)
    step = max(1, len(cuts) // MAX_CUTS_PER_FILE)
    for cut in cuts[::step]:
        report = ranges._validate(path, len(data), cut, given, None, fork=False)
        assert json.dumps(report.to_dict()) == expected, f"cut at byte {cut}"


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.outcome != "create"], ids=lambda c: f"{c.id}:{c.model}"
)
def test_the_fixture_corpus_cut_anywhere(case: Case) -> None:
    assert CASE_IDS  # the same corpus as tests/test_validation.py
    assert_every_cut_agrees(case.path, settings(case.model, case.method))


def test_duplicates_blanks_and_errors_across_the_cut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader, "MAX_LINE_BYTES", 400)
    examples = [chat(f"Question {n % 6}?", "Answer " * (n % 3 + 1)) for n in range(30)]
    data = b"\xef\xbb\xbf" + jsonl(*examples[:10])  # a byte-order mark on line 1
    data += b"\n  \n" + b'{"messages": [}\n' + b"[1, 2]\n"  # blank lines, not JSON, no object
    data += jsonl(chat("x" * 500))  # too long
    data += jsonl(chat("a <|endoftext|> here"), {"prompt": "p", "completion": "c"})
    data += jsonl(*examples[10:]) + b"\xff\xfe\n" + jsonl(examples[0])  # bad UTF-8, duplicate
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(data)
    given = settings("gpt-4o-mini")
    report = validation.validate_file([data], **given)
    assert report.check("duplicate_example").count > 5 and report.error is not None
    assert_every_cut_agrees(path, given)


def test_a_file_whose_first_range_holds_no_example(tmp_path: Path) -> None:
    path = tmp_path / "late.jsonl"
    path.write_bytes(b"not json\n\n[]\n" + jsonl(*(chat(f"q{n}") for n in range(12))))
    assert_every_cut_agrees(path, settings("gpt-4o-mini"))
    # ... and a file in the wrong format, decided in either range
    path.write_bytes(b"\n" + jsonl(*({"prompt": f"p{n}", "completion": "c"} for n in range(12))))
    assert_every_cut_agrees(path, settings("gpt-4o-mini"))


def test_small_files_are_walked_in_one_pass() -> None:
    assert not ranges._wanted(None, ranges.PARALLEL_MIN_BYTES - 1)
    assert not ranges._wanted(1, 10 * ranges.PARALLEL_MIN_BYTES)
    assert ranges._wanted(2, 10)


# The fork itself, in an interpreter of its own: no other thread runs there (pytest's may),
# so validate_path forks. Its report must equal one pass's, also when the second process
# fails (then the first walks its range itself).
FORKED = textwrap.dedent(
    """
    import json, os, resource, sys
    from mockft import validation
    from mockft.catalog import load_catalog
    from mockft.validation import ranges
    catalog = load_catalog()
    spec, model = catalog.fine_tuning("gpt-4o-mini"), catalog.resolve("gpt-4o-mini").id
    path = sys.argv[1]
    given = dict(model=model, model_spec=spec, source="f")
    with open(path, "rb") as f:
        expected = validation.validate_file([f.read()], **given).to_dict()
    shown = []
    split = validation.validate_path(path, processes=2, progress=shown.append, **given)
    forked = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss > 0
    parent, second = os.getpid(), ranges._second_range
    def failing(*args, **kwargs):
        if os.getpid() != parent:
            raise RuntimeError("the second process fails")
        return second(*args, **kwargs)
    ranges._second_range = failing
    fallen_back = validation.validate_path(path, processes=2, **given)
    print(json.dumps([forked, split.to_dict() == expected, fallen_back.to_dict() == expected,
                      max(shown) == os.path.getsize(path)]))
    """
)


def test_the_second_range_in_a_forked_process(tmp_path: Path) -> None:
    examples = [chat(f"Question {n % 50}?", "Answer " * (n % 9 + 1)) for n in range(400)]
    path = tmp_path / "forked.jsonl"
    path.write_bytes(jsonl(*examples) + b'{"messages": 3}\n' + jsonl(*examples[:5]))
    done = subprocess.run(
        [sys.executable, "-c", FORKED, str(path)], capture_output=True, text=True, check=True
    )
    forked, same, same_after_failure, progress_complete = json.loads(done.stdout)
    assert forked, "no second process ran"
    assert same and same_after_failure and progress_complete
