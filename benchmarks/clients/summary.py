"""Print a recorded run (``exchanges.jsonl``) as one line per exchange, or in full.

python -m benchmarks.clients.summary /tmp/run/openai-cli [--full] [--width 160] [--spec]

``--spec`` also checks every JSON answer against OpenAI's OpenAPI description with the
test suite's contract checker (``tests/openapi_contract.py``) and prints what differs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--width", type=int, default=160)
    parser.add_argument("--spec", action="store_true", help="check answers against the spec")
    args = parser.parse_args()
    violations = 0
    path = args.run / "exchanges.jsonl" if args.run.is_dir() else args.run
    for line in path.read_text().splitlines():
        e = json.loads(line)
        query = f"?{e['query']}" if e["query"] else ""
        head = f"{e['seq']:>3} {e['method']:<6} {e['path']}{query} -> {e['status']}"
        request = e["request_body"].get("text", "<binary>")
        answer = e["response_body"].get("text", "<binary>")
        if args.full:
            print(head)
            if request:
                print("  >", request[:4000])
            print("  <", answer[:4000])
        else:
            print(head)
            if request and "multipart" not in e["request_headers"].get("content-type", ""):
                print("  >", request.replace("\n", " ")[: args.width])
            print("  <", answer.replace("\n", " ")[: args.width])
        if args.spec and e["path"].startswith("/v1/"):
            for problem in _spec_problems(e, answer):
                violations += 1
                print("  ! spec:", problem[: args.width])
    if args.spec:
        print(f"{violations} spec violation(s)")


def _spec_problems(e: dict[str, Any], answer: str) -> list[str]:
    from tests.openapi_contract import UnknownOperationError, response_violations

    content_type = e["response_headers"].get("content-type")
    body: Any = answer
    if content_type and "json" in content_type:
        body = json.loads(answer)
    elif content_type and "event-stream" in content_type:  # each chunk is a JSON body
        return []
    try:
        return response_violations(e["method"], e["path"], e["status"], body, content_type)
    except UnknownOperationError as error:
        return [f"not in the spec: {error}"]


if __name__ == "__main__":
    main()
