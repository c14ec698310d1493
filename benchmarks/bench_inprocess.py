"""One SDK call through the `mockft` fixture (in-process, no sockets) against the same SDK
call answered by a canned route: what mockft adds on top of the SDK.

    python -m benchmarks.bench_inprocess [--calls 3000]

`client.fine_tuning.jobs.retrieve(job_id)` of a succeeded job, both ways, in blocks of 100
calls interleaved; a figure is the median of the blocks' per-call times.

- SDKs on httpx (openai 1.x, 2.x): the canned route is respx's (`respx.mock`), returning
  the body mockft answered;
- SDKs on httpx2 (openai 3.x), which respx does not patch: the canned route is the SDK's
  own `MockTransport` with the same body.

`python -m benchmarks` runs it in this interpreter and, when it exists, in
benchmarks/.peers/sdk2-venv (openai 2.x + respx, mockft installed from this tree).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SDK2 = ROOT / "benchmarks" / ".peers" / "sdk2-venv" / "bin" / "python"
BLOCK = 100
TRAINING = (ROOT / "fixtures" / "train_chat.jsonl").read_bytes()


def _per_call(call: Callable[[], Any], calls: int) -> list[float]:
    samples = []
    for _ in range(calls // BLOCK):
        started = time.perf_counter()
        for _ in range(BLOCK):
            call()
        samples.append((time.perf_counter() - started) / BLOCK * 1e6)
    return samples


def measure(calls: int) -> dict[str, Any]:
    import openai

    from mockft.pytest_plugin import MockFT
    from mockft.transport import sdk_family

    handle = MockFT()
    try:
        client = handle.openai()
        training = client.files.create(file=("train.jsonl", TRAINING), purpose="fine-tune")
        job_id = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training.id).id
        handle.advance(86_400)
        body = client.fine_tuning.jobs.with_raw_response.retrieve(job_id).http_response.json()
        assert body["status"] == "succeeded"

        def ours() -> Any:
            return client.fine_tuning.jobs.retrieve(job_id)

        family = sdk_family()
        if family == "httpx":
            import httpx
            import respx

            router = respx.mock(base_url="http://canned.test/v1", assert_all_called=False)
            router.get(f"/fine_tuning/jobs/{job_id}").respond(json=body)
            router.start()
            canned_client = openai.OpenAI(
                base_url="http://canned.test/v1", api_key="sk-x", http_client=httpx.Client()
            )
            canned = "respx route"
        else:
            import httpx2  # type: ignore[import-not-found]

            encoded = json.dumps(body).encode()

            def answer(request: Any) -> Any:
                return httpx2.Response(
                    200, content=encoded, headers={"content-type": "application/json"}
                )

            canned_client = openai.OpenAI(
                base_url="http://canned.test/v1",
                api_key="sk-x",
                http_client=httpx2.Client(transport=httpx2.MockTransport(answer)),
            )
            router = None
            canned = "MockTransport (respx does not patch httpx2)"

        def theirs() -> Any:
            return canned_client.fine_tuning.jobs.retrieve(job_id)

        ours()
        theirs()  # warm both
        mine: list[float] = []
        canned_samples: list[float] = []
        for _ in range(max(1, calls // (BLOCK * 5))):
            mine += _per_call(ours, BLOCK * 5)
            canned_samples += _per_call(theirs, BLOCK * 5)
        if router is not None:
            router.stop()
    finally:
        handle.close()
    fixture_us, canned_us = statistics.median(mine), statistics.median(canned_samples)
    return {
        "sdk": f"openai {openai.__version__} ({family})",
        "canned": canned,
        "fixture_us": fixture_us,
        "canned_us": canned_us,
        "ratio": fixture_us / canned_us,
    }


def figures(quick: bool) -> list[Any]:
    """For `python -m benchmarks`: this interpreter's SDK, and openai 2.x with respx."""
    from benchmarks.__main__ import Figure

    calls = 1000 if quick else 3000
    runs = [measure(calls)]
    if SDK2.exists():
        out = subprocess.run(
            [str(SDK2), "-m", "benchmarks.bench_inprocess", "--calls", str(calls), "--json"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(out.stdout))
    found = []
    for run in runs:
        target = "<= 1.5" if "respx" in run["canned"] else "-"
        found.append(
            Figure(
                f"in-process jobs.retrieve via the fixture vs a canned {run['canned'].split()[0]}"
                f" ({run['sdk']})",
                run["ratio"],
                "x",
                target,
                run["ratio"] <= 1.5 if target != "-" else None,
                f"{run['fixture_us']:.0f} vs {run['canned_us']:.0f} us per call",
            )
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.calls)
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"{result['sdk']}: fixture {result['fixture_us']:.0f} us, {result['canned']} "
        f"{result['canned_us']:.0f} us per call: {result['ratio']:.2f}x"
    )


if __name__ == "__main__":
    main()
