"""instructor's distillation workflow, as its docs show it, against mockft.

    python benchmarks/clients/instructor_distil.py distil OUT.jsonl     # the training file
    python benchmarks/clients/instructor_distil.py dispatch MODEL       # call the fine-tune

``distil`` runs a plain Python function under ``Instructions.distil`` and logs each call as
a fine-tuning example (instructor's MESSAGES format: the legacy ``functions`` /
``function_call`` chat format); ``dispatch`` calls the same function through the fine-tuned
model (``mode="dispatch"``), which asks for the result as a forced function call and
validates it into the pydantic model. Between the two, instructor's own CLI uploads the
file and runs the job (``openai_cli``-style steps in ``instructor.sh``).
"""

# no `from __future__ import annotations`: instructor reads the return annotation as a class

import logging
import random
import sys

import instructor
from openai import OpenAI
from pydantic import BaseModel


class Multiply(BaseModel):
    a: int
    b: int
    result: int


def main() -> None:
    what, arg = sys.argv[1], sys.argv[2]
    logging.basicConfig(level=logging.INFO)
    handler = logging.FileHandler(arg, mode="w") if what == "distil" else None
    instructions = instructor.Instructions(
        name="three_digit_multiply",
        finetune_format=instructor.FinetuneFormat.MESSAGES,
        log_handlers=[handler] if handler else [],
        openai_client=instructor.from_openai(OpenAI()),
    )

    if what == "distil":

        @instructions.distil
        def fn(a: int, b: int) -> Multiply:
            return Multiply(a=a, b=b, result=a * b)

        rng = random.Random(0)
        for _ in range(20):
            fn(rng.randint(100, 999), rng.randint(100, 999))
        print(f"wrote 20 examples to {arg}")
    else:

        @instructions.distil(mode="dispatch", model=arg)
        def fn(a: int, b: int) -> Multiply:  # the body is not run: the model answers
            return Multiply(a=a, b=b, result=a * b)

        seen = random.Random(0)
        trained = fn(seen.randint(100, 999), seen.randint(100, 999))
        print("a trained call:", repr(trained))
        unseen = fn(123, 456)
        print("an unseen call:", repr(unseen))


if __name__ == "__main__":
    main()
