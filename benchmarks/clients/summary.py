"""Print a recorded run (``exchanges.jsonl``) as one line per exchange, or in full.

python -m benchmarks.clients.summary /tmp/run/openai-cli [--full] [--width 160]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--width", type=int, default=160)
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
