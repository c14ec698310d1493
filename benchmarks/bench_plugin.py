"""What a test that uses the `mockft` fixture costs: a fresh in-process app, the SDK client,
upload a training file, create a job, run it to success, read its events, tear down.

    python benchmarks/bench_plugin.py [--tests N]

Two measurements:

1. in this process, the fixture's own steps (`MockFT(...)` ... `close()`), after one warm-up
   run: the per-test cost once the process has imported everything;
2. a fresh project, run by pytest in a subprocess with only the installed entry point: a
   test file of N such tests, per-test time from pytest's own durations (setup + call +
   teardown), the first test (which pays the imports and the tokenizer's vocabulary)
   reported apart.

Target: < 50 ms per test (issue 6).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

TARGET_MS = 50.0
DEFAULT_TESTS = 50
EXAMPLES = [
    {
        "messages": [
            {"role": "user", "content": f"What is {n} + {n}?"},
            {"role": "assistant", "content": f"{n + n}, obviously."},
        ]
    }
    for n in range(12)
]
TRAINING = "".join(json.dumps(e) + "\n" for e in EXAMPLES).encode()

USER_TEST = textwrap.dedent(
    """
    import json

    import pytest

    EXAMPLES = {examples!r}
    DATA = "".join(json.dumps(e) + "\\n" for e in EXAMPLES).encode()


    @pytest.mark.parametrize("n", range({tests}))
    def test_x(mockft, n):
        client = mockft.openai()
        training = client.files.create(file=("train.jsonl", DATA), purpose="fine-tune")
        job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training.id)
        assert mockft.run_until_done(job.id).status == "succeeded"
        assert client.fine_tuning.jobs.list_events(job.id).data
    """
)
CASE_NAME = re.compile(r"test_x\[(\d+)\]")


def one_test() -> float:
    """Seconds for what the fixture and the user's test do, end to end."""
    from mockft.pytest_plugin import MockFT

    started = time.perf_counter()
    handle = MockFT()
    try:
        client = handle.openai()
        training = client.files.create(file=("train.jsonl", TRAINING), purpose="fine-tune")
        job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training.id)
        if handle.run_until_done(job.id).status != "succeeded":
            raise RuntimeError("the job did not succeed")
        client.fine_tuning.jobs.list_events(job.id)
    finally:
        handle.close()
    return time.perf_counter() - started


def in_process(tests: int) -> dict[str, float]:
    first = one_test()
    runs = [one_test() for _ in range(tests)]
    return {
        "first_ms": first * 1000,
        "median_ms": statistics.median(runs) * 1000,
        "p95_ms": sorted(runs)[int(len(runs) * 0.95) - 1] * 1000,
    }


def fresh_project(tests: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as project:
        path = Path(project) / "test_user.py"
        path.write_text(USER_TEST.format(examples=EXAMPLES, tests=tests))
        report = Path(project) / "report.xml"
        started = time.perf_counter()
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                f"--junitxml={report}",
                str(path),
            ],
            cwd=project,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - started
        if run.returncode != 0:
            raise RuntimeError(f"the fresh project's tests failed:\n{run.stdout}\n{run.stderr}")
        # junit's time per test case is setup + call + teardown, to the millisecond.
        per_test: dict[int, float] = {}
        for case in ElementTree.parse(report).iter("testcase"):
            found = CASE_NAME.fullmatch(case.get("name", ""))
            if found:
                per_test[int(found.group(1))] = float(case.get("time", "nan"))
    if len(per_test) != tests:
        raise RuntimeError(f"expected {tests} tests' durations, found {len(per_test)}")
    first = per_test[0]
    rest = [per_test[n] for n in range(1, tests)]
    return {
        "first_ms": first * 1000,
        "median_ms": statistics.median(rest) * 1000,
        "p95_ms": sorted(rest)[int(len(rest) * 0.95) - 1] * 1000,
        "pytest_wall_s": wall,
    }


def figures(quick: bool) -> list[Any]:
    """For `python -m benchmarks`."""
    from benchmarks.__main__ import Figure

    tests = 20 if quick else DEFAULT_TESTS
    inside, fresh = in_process(tests), fresh_project(tests)
    return [
        Figure(
            "pytest `mockft` fixture: per test, in-process (warm)",
            inside["median_ms"],
            "ms",
            f"< {TARGET_MS:g}",
            inside["median_ms"] < TARGET_MS,
            f"p95 {inside['p95_ms']:.1f} ms; upload, job to success, events",
        ),
        Figure(
            "pytest `mockft` fixture: per test, fresh project",
            fresh["median_ms"],
            "ms",
            f"< {TARGET_MS:g}",
            fresh["median_ms"] < TARGET_MS,
            f"first test {fresh['first_ms']:.0f} ms (imports, vocabulary)",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=DEFAULT_TESTS)
    args = parser.parse_args(argv)

    inside = in_process(args.tests)
    fresh = fresh_project(args.tests)
    print(f"mockft fixture, per test (upload, job, run to success, events): < {TARGET_MS:g} ms?")
    print(
        f"  in process, warm:     median {inside['median_ms']:.1f} ms,"
        f" p95 {inside['p95_ms']:.1f} ms"
        f" (first, cold: {inside['first_ms']:.0f} ms)"
    )
    print(
        f"  fresh pytest project: median {fresh['median_ms']:.1f} ms, p95 {fresh['p95_ms']:.1f} ms"
        f" (first test: {fresh['first_ms']:.0f} ms; pytest wall {fresh['pytest_wall_s']:.1f} s"
        f" for {args.tests} tests)"
    )
    met = max(inside["median_ms"], fresh["median_ms"]) < TARGET_MS
    print("  target", "met" if met else "MISSED")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
