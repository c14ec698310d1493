"""Prepare a cookbook notebook for an unattended run, changing no line of its code.

    python -m benchmarks.clients.notebook IN.ipynb OUT.ipynb [--order 0,1,...] [--keep-pip]

Keeps the code cells (markdown is not run), drops ``!pip install ...`` cells (the run's
environment is set up beforehand, offline), and with ``--order`` runs the code cells in
the order given (indices of the code cells kept, 0-based): the order their author ran them
in, when the committed outputs show one that differs from the file's. "Fine-tuned
classification" needs it: top to bottom it reads ``fine_tune_results.fine_tuned_model``
after a later cell made ``fine_tune_results`` a list, and fails against any server, the
real API included (its execution counts show the retrieve cell, 58, ran after the
result-file cells, 48-55).

The outputs are cleared; nbconvert (``jupyter nbconvert --execute``) writes new ones.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def prepare(
    notebook: dict[str, Any], *, order: list[int] | None = None, keep_pip: bool = False
) -> dict[str, Any]:
    cells = [cell for cell in notebook["cells"] if cell.get("cell_type") == "code"]
    if not keep_pip:
        cells = [cell for cell in cells if not _source(cell).lstrip().startswith(("!pip", "%pip"))]
    if order is not None:
        if sorted(order) != list(range(len(cells))):
            raise SystemExit(f"--order must list each of the {len(cells)} code cells once")
        cells = [cells[index] for index in order]
    for cell in cells:
        cell["outputs"], cell["execution_count"] = [], None
    return {**notebook, "cells": cells}


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--order", help="code cells' indices in the order to run them")
    parser.add_argument("--keep-pip", action="store_true")
    args = parser.parse_args()
    notebook = json.loads(args.source.read_text(encoding="utf-8"))
    order = [int(i) for i in args.order.split(",")] if args.order else None
    prepared = prepare(notebook, order=order, keep_pip=args.keep_pip)
    args.target.write_text(json.dumps(prepared, indent=1, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
