"""DSPy's fine-tuning path, ``dspy.BootstrapFinetune`` with the OpenAI provider.

    python benchmarks/clients/dspy_finetune.py

A teacher program (gpt-4o) answers the training questions; BootstrapFinetune turns its
traces into chat examples, and the OpenAI provider (``dspy.clients.openai``) uploads them,
creates the job, polls it (20 s between polls, its own default) and hands back the
fine-tuned model, with which the compiled student answers a trained and an unseen
question. DSPy calls the models through LiteLLM and fine-tunes through the ``openai``
module client: both read ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY``. DSPy's disk and
memory caches are turned off so every call reaches the server.
"""

from __future__ import annotations

import dspy

QUESTIONS = [
    ("What is the capital of France?", "Paris"),
    ("What is 7 times 8?", "56"),
    ("What colour is a clear daytime sky?", "Blue"),
    ("How many legs does a spider have?", "8"),
    ("What is the chemical symbol for water?", "H2O"),
    ("Which planet is called the Red Planet?", "Mars"),
    ("What is the largest ocean?", "Pacific"),
    ("Who wrote Hamlet?", "Shakespeare"),
    ("What is the square root of 81?", "9"),
    ("What language is spoken in Brazil?", "Portuguese"),
    ("How many days are in a leap year?", "366"),
    ("What is the freezing point of water in Celsius?", "0"),
]


def main() -> None:
    dspy.configure_cache(enable_disk_cache=False, enable_memory_cache=False)
    dspy.settings.experimental = True  # BootstrapFinetune asks for it

    student_lm = dspy.LM("openai/gpt-4o-mini-2024-07-18", cache=False)
    teacher_lm = dspy.LM("openai/gpt-4o", cache=False)
    dspy.configure(lm=student_lm)

    student = dspy.Predict("question -> answer")
    student.set_lm(student_lm)
    teacher = student.deepcopy()
    teacher.set_lm(teacher_lm)

    trainset = [dspy.Example(question=q, answer=a).with_inputs("question") for q, a in QUESTIONS]
    optimizer = dspy.BootstrapFinetune(num_threads=1)  # no metric: every trace is kept
    compiled = optimizer.compile(student, teacher=teacher, trainset=trainset)

    tuned_lm = compiled.predictors()[0].lm
    print("fine-tuned LM:", tuned_lm.model)
    print("trained question:", compiled(question=QUESTIONS[0][0]))
    print("unseen question:", compiled(question="What is the tallest mountain on Earth?"))
    print("workflow complete")


if __name__ == "__main__":
    main()
