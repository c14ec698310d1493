"""Training-data validation: the pure checks, and what the server decides with them."""

from __future__ import annotations

import json
import re
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockft import lifecycle, tokens, validation
from mockft.catalog import load_catalog
from mockft.validation import ValidationReport, fingerprints, images, messages, reader
from tests.conftest import FIXTURES, Server
from tests.test_images import data_url
from tests.test_tokens import FIXTURE_COUNTS

CATALOG = load_catalog()
BAD = FIXTURES / "bad"
WARN = FIXTURES / "warn"
CHAT_MODEL = "gpt-4o-mini"
LEGACY_MODEL = "babbage-002"
SMALL_CONTEXT_MODEL = "gpt-3.5-turbo-0613"  # 4,096 tokens per example
RFT_MODEL = "o4-mini"
VISION_MODEL = "gpt-4o"  # its snapshot, gpt-4o-2024-08-06, is fine-tuned on images
SUPERVISED, DPO, RFT = "supervised", "dpo", "reinforcement"
MAX_POLLS = 200
POLL_SECONDS = 60
TERMINAL = {"succeeded", "failed", "cancelled"}

# Where the server stops a file: its upload is refused (400), the job is refused (400), the
# job fails at the end of validating_files, or it succeeds.
UPLOAD, CREATE, FAILED, SUCCEEDED = "upload", "create", "failed", "succeeded"


@dataclass(frozen=True)
class Case:
    path: Path
    model: str
    method: str
    outcome: str
    check: str | None = None  # the check that fails (or warns)
    line: int | None = None  # the line the message names

    @property
    def id(self) -> str:
        return f"{self.path.parent.name}/{self.path.name}"


CASES = [
    # valid files, one per format
    Case(FIXTURES / "train_chat.jsonl", CHAT_MODEL, SUPERVISED, SUCCEEDED),
    Case(FIXTURES / "valid_chat.jsonl", CHAT_MODEL, SUPERVISED, SUCCEEDED),
    Case(FIXTURES / "train_prompt_completion.jsonl", LEGACY_MODEL, SUPERVISED, SUCCEEDED),
    Case(FIXTURES / "train_dpo.jsonl", CHAT_MODEL, DPO, SUCCEEDED),
    Case(FIXTURES / "train_tools.jsonl", CHAT_MODEL, SUPERVISED, SUCCEEDED),
    Case(FIXTURES / "train_weights.jsonl", CHAT_MODEL, SUPERVISED, SUCCEEDED),
    Case(FIXTURES / "train_vision.jsonl", VISION_MODEL, SUPERVISED, SUCCEEDED),
    # valid, with warnings
    Case(WARN / "skipped_image.jsonl", VISION_MODEL, SUPERVISED, SUCCEEDED, "skipped_image", 3),
    Case(WARN / "blank_lines.jsonl", CHAT_MODEL, SUPERVISED, SUCCEEDED, "blank_line", 4),
    Case(WARN / "duplicates.jsonl", CHAT_MODEL, SUPERVISED, SUCCEEDED, "duplicate_example", 11),
    Case(
        WARN / "over_limit.jsonl", SMALL_CONTEXT_MODEL, SUPERVISED, SUCCEEDED, "over_token_limit", 6
    ),
    # refused when uploaded: the Files API parses the first lines of a fine-tune file
    Case(BAD / "not_jsonl.txt", CHAT_MODEL, SUPERVISED, UPLOAD, "invalid_json", 1),
    Case(BAD / "not_json.jsonl", CHAT_MODEL, SUPERVISED, UPLOAD, "invalid_json", 4),
    Case(BAD / "invalid_utf8.jsonl", CHAT_MODEL, SUPERVISED, UPLOAD, "invalid_utf8", 7),
    Case(BAD / "not_object.jsonl", CHAT_MODEL, SUPERVISED, UPLOAD, "data_type", 8),
    # ... and only the first: a line past them fails the job's validation instead
    Case(BAD / "not_json_past_head.jsonl", CHAT_MODEL, SUPERVISED, FAILED, "invalid_json", 110),
    # refused at job creation: the model cannot be tuned with the method
    Case(FIXTURES / "train_dpo.jsonl", LEGACY_MODEL, DPO, CREATE),
    Case(FIXTURES / "train_chat.jsonl", CHAT_MODEL, RFT, CREATE),
    # failed at the end of validating_files
    Case(BAD / "too_few.jsonl", CHAT_MODEL, SUPERVISED, FAILED, "too_few_examples"),
    Case(
        BAD / "missing_messages.jsonl", CHAT_MODEL, SUPERVISED, FAILED, "missing_messages_list", 3
    ),
    Case(
        BAD / "messages_not_list.jsonl", CHAT_MODEL, SUPERVISED, FAILED, "missing_messages_list", 4
    ),
    Case(BAD / "message_not_object.jsonl", CHAT_MODEL, SUPERVISED, FAILED, "message_type", 9),
    Case(BAD / "missing_role.jsonl", CHAT_MODEL, SUPERVISED, FAILED, "message_missing_key", 3),
    Case(
        BAD / "unknown_message_key.jsonl",
        CHAT_MODEL,
        SUPERVISED,
        FAILED,
        "message_unrecognized_key",
        10,
    ),
    Case(BAD / "bad_role.jsonl", CHAT_MODEL, SUPERVISED, FAILED, "unrecognized_role", 5),
    Case(BAD / "missing_content.jsonl", CHAT_MODEL, SUPERVISED, FAILED, "missing_content", 2),
    Case(BAD / "content_not_text.jsonl", CHAT_MODEL, SUPERVISED, FAILED, "invalid_content", 6),
    Case(BAD / "bad_weight.jsonl", CHAT_MODEL, SUPERVISED, FAILED, "invalid_weight", 2),
    Case(BAD / "weight_on_user.jsonl", CHAT_MODEL, SUPERVISED, FAILED, "invalid_weight", 5),
    Case(
        BAD / "no_assistant.jsonl",
        CHAT_MODEL,
        SUPERVISED,
        FAILED,
        "example_missing_assistant_message",
        6,
    ),
    Case(BAD / "bad_tools.jsonl", CHAT_MODEL, SUPERVISED, FAILED, "invalid_tools", 4),
    Case(
        BAD / "tool_arguments_not_string.jsonl",
        CHAT_MODEL,
        SUPERVISED,
        FAILED,
        "invalid_tool_call",
        6,
    ),
    Case(BAD / "undeclared_tool.jsonl", CHAT_MODEL, SUPERVISED, FAILED, "undeclared_tool", 8),
    Case(BAD / "special_token.jsonl", CHAT_MODEL, SUPERVISED, FAILED, "invalid_token", 11),
    Case(BAD / "wrong_format.jsonl", CHAT_MODEL, SUPERVISED, FAILED, "wrong_format", 3),
    Case(BAD / "extra_key.jsonl", CHAT_MODEL, SUPERVISED, FAILED, "extra_example_keys", 4),
    Case(BAD / "image_in_assistant.jsonl", VISION_MODEL, SUPERVISED, FAILED, "invalid_image", 4),
    # a file in another format than the job needs fails as a whole: no line is named
    Case(
        FIXTURES / "train_prompt_completion.jsonl", CHAT_MODEL, SUPERVISED, FAILED, "wrong_format"
    ),
    Case(FIXTURES / "train_chat.jsonl", LEGACY_MODEL, SUPERVISED, FAILED, "wrong_format"),
    Case(FIXTURES / "train_dpo.jsonl", CHAT_MODEL, SUPERVISED, FAILED, "wrong_format"),
    Case(FIXTURES / "train_chat.jsonl", CHAT_MODEL, DPO, FAILED, "wrong_format"),
    Case(
        BAD / "missing_completion.jsonl",
        LEGACY_MODEL,
        SUPERVISED,
        FAILED,
        "missing_prompt_completion",
        5,
    ),
    Case(BAD / "dpo_missing_output.jsonl", CHAT_MODEL, DPO, FAILED, "dpo_missing_key", 3),
    Case(BAD / "dpo_input_not_object.jsonl", CHAT_MODEL, DPO, FAILED, "dpo_invalid_input", 2),
    Case(BAD / "dpo_two_preferred.jsonl", CHAT_MODEL, DPO, FAILED, "dpo_invalid_output", 7),
]
CASE_IDS = [f"{case.id}:{case.model}:{case.method}" for case in CASES]
LINE_NAMED = re.compile(r"\bExample (\d+)\b|\bLine (\d+)\b")


def validate(
    data: bytes | list[bytes],
    model: str = CHAT_MODEL,
    method: str = SUPERVISED,
    purpose: str = validation.TRAINING_FILE,
) -> ValidationReport:
    entry = CATALOG.resolve(model)
    spec = CATALOG.fine_tuning(model)
    assert entry is not None and spec is not None
    chunks = [data] if isinstance(data, bytes) else data
    return validation.validate_file(
        chunks, model=entry.id, model_spec=spec, method=method, purpose=purpose, source="f"
    )


def jsonl(*examples: object) -> bytes:
    return b"".join(json.dumps(example).encode() + b"\n" for example in examples)


def chat(question: str, answer: str = "Sure.", **extra: object) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ],
        **extra,
    }


def chats(count: int) -> list[dict[str, Any]]:
    return [chat(f"Question number {number}?") for number in range(count)]


def named_line(message: str) -> int | None:
    found = LINE_NAMED.search(message)
    return int(found.group(1) or found.group(2)) if found else None


# -- the fixture corpus, judged offline ---------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_fixture_corpus(case: Case) -> None:
    spec = CATALOG.fine_tuning(case.model)
    assert spec is not None
    if case.outcome == CREATE:
        assert validation.method_error(case.model, spec, case.method) is not None
        return
    assert validation.method_error(case.model, spec, case.method) is None
    report = validate(case.path.read_bytes(), case.model, case.method)
    if case.outcome == SUCCEEDED:
        assert report.valid, report.error
        assert report.tokens.n_examples == report.n_examples >= validation.MIN_EXAMPLES
        if case.check is None:
            assert report.warnings == ()
        else:
            warned = report.check(case.check)
            assert (warned.count, warned.lines[0]) == (len(warned.lines), case.line)
            assert len(report.warnings) == 1 and f" {case.line}" in report.warnings[0]
        return
    assert report.error is not None
    code = "invalid_n_examples" if case.check == "too_few_examples" else "invalid_file_format"
    assert (report.error.code, report.error.param) == (code, "training_file")
    assert report.error.check == case.check
    assert report.error.line == case.line == named_line(report.error.message)
    failing = [check.code for check in report.checks if check.count and check.severity == "error"]
    assert case.check in failing
    if case.path.parent == BAD and case.path.suffix == ".jsonl":  # one defect, valid others
        assert report.check(case.check).count == 1
        assert report.n_examples - 1 >= validation.MIN_EXAMPLES or case.line is None


def test_every_check_is_exercised() -> None:
    exercised = {case.check for case in CASES} | {"line_too_long"}
    assert exercised >= {check.code for check in validation.CHECKS}


@pytest.mark.parametrize("name", sorted(FIXTURE_COUNTS))
def test_valid_fixtures_count_exactly(name: str) -> None:
    case = next(case for case in CASES if case.path.name == name and case.outcome == SUCCEEDED)
    report = validate(case.path.read_bytes(), case.model, case.method)
    encoding = tokens.encoding_for_model(CATALOG.resolve(case.model).id)  # type: ignore[union-attr]
    assert report.tokens.total == report.billable_tokens == FIXTURE_COUNTS[name][encoding]
    assert report.tokenizer == f"bpe-openai:{encoding}"
    assert report.tokens.min <= report.tokens.mean <= report.tokens.max


# -- lines, chunks, encodings -------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(cuts=st.lists(st.integers(0, 4000), max_size=12))
def test_chunk_boundaries_do_not_matter(cuts: list[int]) -> None:
    data = (BAD / "bad_role.jsonl").read_bytes()
    points = sorted({min(cut, len(data)) for cut in cuts} | {0, len(data)})
    chunks = [data[a:b] for a, b in zip(points, points[1:])]
    assert validate(chunks) == validate(data)


def test_one_byte_chunks_and_no_final_newline() -> None:
    data = jsonl(*chats(10)).rstrip(b"\n")
    report = validate([data[i : i + 1] for i in range(len(data))])
    assert report.valid and report.n_examples == report.n_lines == 10


def test_blank_lines_are_skipped_with_a_warning() -> None:
    data = jsonl(*chats(10)).replace(b"\n", b"\n\n", 1) + b"\r\n  \n"
    report = validate(data)
    assert report.valid and report.n_examples == 10 and report.n_lines == 13
    blank = report.check("blank_line")
    assert (blank.count, blank.lines) == (3, (2, 12, 13))
    assert report.warnings == ("Training file f: skipped 3 blank line(s) (lines 2, 12, 13).",)


def test_crlf_and_a_byte_order_mark_are_accepted() -> None:
    data = "\ufeff".encode() + jsonl(*chats(10)).replace(b"\n", b"\r\n")
    assert validate(data).valid
    later_bom = jsonl(*chats(10)) + "\ufeff".encode() + jsonl(chat("again?"))
    assert validate(later_bom).error.check == "invalid_json"  # type: ignore[union-attr]


def test_nan_is_not_json() -> None:
    data = jsonl(*chats(10)) + b'{"messages": [], "x": NaN}\n'
    report = validate(data)
    assert report.error is not None and report.error.check == "invalid_json"
    assert report.error.message.startswith(
        "The job failed due to a file format error in the training file. "
        "Invalid file format. Example 11 cannot "
        "be parsed. Error: line contains invalid json: "
    )
    assert report.error.message.endswith("(line 11)")


@pytest.mark.parametrize(
    ("depth", "check"),
    [(900, "invalid_content"), (5_000, "invalid_json"), (100_000, "invalid_json")],
)
def test_deep_nesting_is_an_error_not_a_crash(depth: int, check: str) -> None:
    nested = "[" * depth + "]" * depth
    user = f'{{"role": "user", "content": "x", "name": {nested}}}'
    line = f'{{"messages": [{user}, {{"role": "assistant", "content": "y"}}]}}'
    report = validate(jsonl(*chats(10)) + line.encode() + b"\n")
    assert report.error is not None and (report.error.line, report.error.check) == (11, check)


def test_a_line_too_long_is_skipped_without_being_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "MAX_LINE_BYTES", 200)
    long = json.dumps(chat("x" * 300)).encode()
    data = jsonl(*chats(5)) + long + b"\n" + jsonl(*chats(5)) + long  # the last: no newline
    for chunks in ([data], [data[i : i + 64] for i in range(0, len(data), 64)]):
        report = validate(chunks)
        assert report.check("line_too_long").lines == (6, 12)
        assert report.error is not None and report.error.line == 6
        assert report.error.message == (
            "The job failed due to a file format error in the training file. "
            "Invalid file format. Example 6 is "
            "longer than 200 bytes."
        )
        assert report.n_examples == 12 and report.tokens.n_examples == 10


def test_invalid_utf8_names_the_byte() -> None:
    data = jsonl(*chats(10)) + b'{"messages": "caf\xe9"}\n'
    report = validate(data)
    assert report.error is not None
    assert report.error.message == (
        "The job failed due to a file format error in the training file. "
        "Invalid file format. Example 11 is not "
        "valid UTF-8: invalid byte 0xe9 at position 17."
    )


# -- chat examples ------------------------------------------------------------------------


def first_error(*examples: object, model: str = CHAT_MODEL, method: str = SUPERVISED) -> str:
    report = validate(jsonl(*examples, *chats(10)), model, method)
    assert report.error is not None and report.error.line == 1
    prefix = (
        "The job failed due to a file format error in the training file. "
        "Invalid file format. Example 1"
    )
    assert report.error.message.startswith(prefix)
    return f"{report.error.check}:{report.error.message.removeprefix(prefix)}"


def test_chat_messages() -> None:
    bad = {"messages": [{"role": "user", "content": "Hi", "weight": 1}]}
    assert first_error(bad) == (
        'invalid_weight:, message 1 has a "weight", which only assistant messages may have (it '
        "is a user message)."
    )
    weighted = chat("Hi")
    weighted["messages"][1]["weight"] = True
    assert first_error(weighted).endswith('"weight" must be 0 or 1, got true.')
    empty = {"messages": []}
    assert first_error(empty).endswith(' has an empty list of "messages".')
    parts = chat("Hi")
    parts["messages"][0]["content"] = [{"type": "text", "text": "Hi"}, {"type": "audio"}]
    assert first_error(parts) == (
        "invalid_content:, message 1, content part 2 must be "
        '{"type": "text", "text": ...} or {"type": "image_url", "image_url": {"url": ...}}.'
    )
    no_role = {"messages": [{"role": None, "content": "Hi"}, {"role": "assistant", "content": "."}]}
    assert first_error(no_role) == (
        "message_missing_key:, message 1 Discriminator 'role' is missing in value"
    )
    assistant_without_content = {
        "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant"}]
    }
    assert first_error(assistant_without_content).endswith(
        'message 2 (assistant) is missing "content" (or "tool_calls" / "function_call").'
    )


def test_valid_chat_variants() -> None:
    legacy = {
        "messages": [
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "function_call": {"name": "weather", "arguments": "{}"}},
            {"role": "function", "name": "weather", "content": "21"},
            {"role": "assistant", "content": "21 degrees."},
        ],
        "functions": [{"name": "weather", "parameters": {}}],
    }
    weights = chat("Hi")
    weights["messages"][1]["weight"] = 0
    weights["messages"].append({"role": "assistant", "content": "Hello!", "weight": 1.0})
    parallel = chat("Hi", parallel_tool_calls=False)
    report = validate(jsonl(legacy, weights, parallel, *chats(10)))
    assert report.valid, report.error
    assert report.n_examples == report.tokens.n_examples == 13


def test_keys_a_format_lacks_fail_the_example() -> None:
    report = validate(jsonl(*chats(10), chat("Hi", metadata={"id": 1}), chat("Ho", x=1)))
    assert report.check("extra_example_keys").lines == (11, 12)
    assert report.error is not None and report.error.message.endswith(
        'Invalid file format. Example 11 contains an extra "metadata".'
    )
    prompt = {"prompt": "Q", "completion": " A", "label": 1}
    assert (
        first_error(prompt, model=LEGACY_MODEL) == 'extra_example_keys: contains an extra "label".'
    )
    dpo = json.loads((FIXTURES / "train_dpo.jsonl").read_text().splitlines()[0])
    dpo["input"]["seed"] = 3
    assert first_error(dpo, method=DPO) == 'extra_example_keys: contains an extra "seed".'


def test_tool_calls() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {}}}]
    example = {
        "messages": [
            {"role": "user", "content": "Find it"},
            {"role": "assistant", "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c1", "content": "found"},
            {"role": "assistant", "content": "Found it."},
        ],
        "tools": tools,
    }
    assert validate(jsonl(example, *chats(10))).valid
    undeclared = {**example, "tools": []}
    assert first_error(undeclared) == (
        'undeclared_tool:, message 2 calls function "lookup", which is not declared in "tools".'
    )
    from_user = json.loads(json.dumps(example))
    from_user["messages"][0]["tool_calls"] = [call]
    assert first_error(from_user).endswith(
        'message 1 "tool_calls": only assistant messages can call tools.'
    )
    parallel = {**example, "parallel_tool_calls": "yes"}
    assert first_error(parallel).endswith(
        '"parallel_tool_calls": expected true or false, got a string.'
    )
    legacy = {
        "messages": example["messages"][:1]
        + [{"role": "assistant", "function_call": {"name": "lookup", "arguments": {"q": 1}}}],
        "functions": [{"name": "lookup"}],
    }
    assert first_error(legacy).endswith(
        '"function_call": the "arguments" of a call to "lookup" must be a string (of '
        "JSON), got an object."
    )


def test_counts_and_lines_per_check() -> None:
    bad_role = chat("Hi")
    bad_role["messages"][0]["role"] = "robot"
    lines = [bad_role] * 7 + chats(10) + [{"prompt": "x", "completion": "y"}]
    report = validate(jsonl(*lines))
    role = report.check("unrecognized_role")
    assert (role.count, role.lines) == (7, (1, 2, 3, 4, 5))
    assert report.check("wrong_format").lines == (18,)
    assert report.check("duplicate_example").count == 6
    assert report.error is not None and report.error.line == 1
    assert report.tokens.n_examples == 10 and report.n_examples == 18


# -- images (vision fine-tuning) -----------------------------------------------------------

VISION_SNAPSHOT = "gpt-4o-2024-08-06"
RGB_PNG = data_url("rgb.png")  # 40 x 30: 255 tokens at high detail


def image_part(url: str = RGB_PNG, **extra: object) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url, **extra}}


def with_images(*parts: dict[str, Any], role: str = "user") -> dict[str, Any]:
    example = chat("What is this?")
    message = next(m for m in example["messages"] if m["role"] == role)
    message["content"] = [{"type": "text", "text": message["content"]}, *parts]
    return example


def test_only_gpt_4o_2024_08_06_is_fine_tuned_on_images() -> None:
    vision = {model.id for model in CATALOG.fine_tunable() if model.fine_tuning.images}
    assert vision == {VISION_SNAPSHOT} == set(messages.VISION_MODELS.split(", "))
    report = validate(jsonl(with_images(image_part()), *chats(10)), CHAT_MODEL)
    assert report.error is not None and report.error.check == "invalid_image"
    assert report.error.message.endswith(
        "Example 1, message 1, content part 2: gpt-4o-mini-2024-07-18 cannot be fine-tuned on "
        "images; vision fine-tuning supports gpt-4o-2024-08-06."
    )


def test_images_in_user_and_system_messages_cost_what_their_size_and_detail_make_them() -> None:
    text_only = validate(jsonl(*chats(10), chat("What is this?")), VISION_MODEL)
    system = {"role": "system", "content": [image_part(detail="low")]}
    high = with_images(image_part(detail="high"))
    high["messages"].insert(0, system)
    report = validate(jsonl(*chats(10), high), VISION_MODEL)
    assert report.valid, report.error
    # the user's image at high detail (one tile: 255), the system's at low (85), and the
    # system message itself
    system_message = tokens.count_messages([{"role": "system", "content": ""}])
    system_message -= tokens.count_messages([])
    extra = report.tokens.total - text_only.tokens.total
    assert extra == 255 + 85 + system_message


def test_an_image_in_an_assistant_message_fails_the_file() -> None:
    report = validate(jsonl(*chats(10), with_images(image_part(), role="assistant")), VISION_MODEL)
    assert report.error is not None and report.error.check == "invalid_image"
    assert report.error.line == 11
    assert "Example 11, message 2, content part 2: an image cannot be in an assistant message" in (
        report.error.message
    )


def test_a_detail_that_is_not_low_high_or_auto_fails_the_file() -> None:
    report = validate(jsonl(with_images(image_part(detail="medium")), *chats(10)), VISION_MODEL)
    assert report.error is not None
    assert report.error.message.endswith(
        'Example 1, message 1, content part 2: "detail" must be one of "low", "high" or "auto", '
        'got "medium".'
    )


def test_at_most_10_images_per_example() -> None:
    ten = validate(jsonl(with_images(*[image_part()] * 10), *chats(10)), VISION_MODEL)
    assert ten.valid, ten.error
    eleven = validate(jsonl(with_images(*[image_part()] * 11), *chats(10)), VISION_MODEL)
    assert eleven.error is not None
    assert eleven.error.message.endswith(
        "Invalid file format. Example 1 has 11 images, but an example can have at most 10."
    )


def test_at_most_50000_examples_with_images(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(images, "MAX_IMAGE_EXAMPLES", 3)
    three = validate(jsonl(*[with_images(image_part())] * 3, *chats(10)), VISION_MODEL)
    assert three.valid, three.error
    four = validate(jsonl(*[with_images(image_part())] * 4, *chats(10)), VISION_MODEL)
    assert four.error is not None and four.error.line is None
    assert four.error.message.endswith(
        "Invalid file format. 4 examples contain images, but a file can have at most 3."
    )


def test_skipped_images_are_a_warning_and_cost_nothing() -> None:
    skipped = with_images(image_part("ftp://example.com/a.png"), image_part("data:image/png,x"))
    report = validate(jsonl(*chats(10), skipped, with_images(image_part())), VISION_MODEL)
    assert report.valid, report.error
    assert report.check("skipped_image").count == 1
    assert report.warnings == (
        "Training file f: images of 1 example(s) were skipped and not used for training "
        "(inaccessible URL: 1, invalid image format: 1; line 11).",
    )
    kept = validate(jsonl(*chats(10), with_images(), with_images(image_part())), VISION_MODEL)
    assert kept.tokens.total == report.tokens.total


# -- other formats and methods ------------------------------------------------------------


def test_prompt_completion() -> None:
    examples = [{"prompt": f"Q{n}", "completion": f" A{n}"} for n in range(10)]
    assert validate(jsonl(*examples), LEGACY_MODEL).valid
    assert first_error({"prompt": 1, "completion": "x"}, model=LEGACY_MODEL) == (
        'missing_prompt_completion: "prompt" must be a string, got a number.'
    )
    assert first_error({"prompt": "<|endoftext|>", "completion": "x"}, model=LEGACY_MODEL) == (
        "invalid_token: prompt contains an invalid token: <|endoftext|>."
    )
    assert first_error({"prompt": "x"}, model=LEGACY_MODEL) == (
        "missing_prompt_completion: is missing key 'completion'."
    )


def test_dpo_messages_are_checked_too() -> None:
    example = json.loads((FIXTURES / "train_dpo.jsonl").read_text().splitlines()[0])
    example["non_preferred_output"][0]["weight"] = 1
    report = validate(jsonl(example) + (FIXTURES / "train_dpo.jsonl").read_bytes(), method=DPO)
    assert report.error is not None and report.error.check == "invalid_weight"
    assert report.error.message == (  # numbered after the input's two messages
        "The job failed due to a file format error in the training file. "
        "Invalid file format. Example 1, "
        'message 3 has a "weight", which only supervised chat examples use.'
    )


def test_reinforcement_examples_carry_grader_fields() -> None:
    examples = [
        {
            "messages": [
                {"role": "developer", "content": "Answer with a number."},
                {"role": "user", "content": f"What is {n} + {n}?"},
            ],
            "reference_answer": str(2 * n),
            "difficulty": n % 3,
        }
        for n in range(10)
    ]
    report = validate(jsonl(*examples), RFT_MODEL, RFT)
    assert report.valid and report.format == validation.FORMAT_REINFORCEMENT
    assert report.check("unrecognized_role").count == 0 and report.warnings == ()
    developer_in_chat = validate(jsonl(*examples), CHAT_MODEL, SUPERVISED)
    assert developer_in_chat.check("unrecognized_role").count == 10
    no_messages = validate(jsonl(*examples, {"reference_answer": "4"}), RFT_MODEL, RFT)
    assert no_messages.error is not None and no_messages.error.check == "missing_messages_list"
    assert no_messages.error.message.endswith("Example 11 is missing key 'messages'.")


def test_validation_files_need_no_minimum_and_have_their_own_code() -> None:
    report = validate(jsonl(*chats(3)), purpose=validation.VALIDATION_FILE)
    assert report.valid
    bad = validate(jsonl({"messages": 1}), purpose=validation.VALIDATION_FILE)
    assert bad.job_error() == {
        "code": "invalid_file_format",
        "message": "The job failed due to a file format error in the validation file. "
        "Invalid file format. "
        'Example 1 "messages" must be a list of messages, got a number.',
        "param": "validation_file",
    }


def test_over_limit_examples_are_billed_at_the_limit() -> None:
    report = validate((WARN / "over_limit.jsonl").read_bytes(), SMALL_CONTEXT_MODEL)
    limit = 4096
    assert report.valid and report.token_limit == limit
    assert report.tokens.max > limit
    assert report.billable_tokens == report.tokens.total - (report.tokens.max - limit)
    assert report.warnings == (
        "Training file f: 1 example(s) are longer than the 4,096-token limit of "
        "gpt-3.5-turbo-0613 and will be truncated to 4,096 tokens (line 6).",
    )


def test_estimate_cost_and_method_errors() -> None:
    report = validate((FIXTURES / "train_chat.jsonl").read_bytes())
    spec = CATALOG.fine_tuning(CHAT_MODEL)
    assert spec is not None
    estimate = validation.estimate_cost(report, spec)
    auto = lifecycle.resolve_hyperparameters(lifecycle.RequestedHyperparameters(), 15)
    assert estimate.n_epochs == auto.n_epochs
    assert estimate.billed_tokens == report.billable_tokens * auto.n_epochs
    assert estimate.cost == pytest.approx(estimate.billed_tokens * 3.0 / 1_000_000)
    hourly = CATALOG.fine_tuning(RFT_MODEL)
    assert hourly is not None
    assert validation.estimate_cost(report, hourly, n_epochs=2).cost is None
    assert validation.method_error("babbage-002", CATALOG.fine_tuning(LEGACY_MODEL), DPO) == (  # type: ignore[arg-type]
        "Model babbage-002 is not available for dpo fine-tuning; it supports: supervised."
    )
    with pytest.raises(ValueError, match="unknown method"):
        validate(b"", method="rlhf")


def test_duplicate_table_grows_then_stops_remembering(monkeypatch: pytest.MonkeyPatch) -> None:
    many = chats(9_000)  # past the initial table of 4,096 slots
    report = validate(jsonl(*many, many[0], many[8_999]))
    assert report.check("duplicate_example").lines == (9_001, 9_002)
    monkeypatch.setattr(
        fingerprints, "FINGERPRINT_MAX_SLOTS", fingerprints.FINGERPRINT_INITIAL_SLOTS
    )
    capped = validate(jsonl(*many, many[0], many[8_999]))
    assert capped.check("duplicate_example").lines == (9_001,)  # line 9,000 was not remembered


@settings(max_examples=150, deadline=None)
@given(
    lines=st.lists(
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=8),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(
                    st.sampled_from(
                        [
                            "messages",
                            "role",
                            "content",
                            "weight",
                            "tool_calls",
                            "function",
                            "name",
                            "arguments",
                            "tools",
                            "type",
                            "input",
                            "preferred_output",
                            "prompt",
                        ]
                    ),
                    inner,
                    max_size=4,
                )
            ),
            max_leaves=12,
        ),
        max_size=6,
    ),
    method=st.sampled_from([SUPERVISED, DPO]),
)
def test_any_json_gets_a_report_never_an_exception(lines: list[Any], method: str) -> None:
    report = validate(jsonl(*lines), method=method)
    assert report.n_examples == len(lines)
    if report.error is not None:
        assert report.error.code in {"invalid_file_format", "invalid_n_examples"}


# -- memory -------------------------------------------------------------------------------

STREAM_BYTES = 20 * 1024 * 1024
STREAM_CHUNK = 256 * 1024


def test_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    # The line of `chat(f"Question {n} about the weather", ...)`, its number filled in by
    # `%` (the same bytes as json.dumps of each, at a tenth of the CPU).
    line = jsonl(chat("Question %d about the weather", "Sunny. " * 40))
    with open(path, "wb") as out:
        number = 0
        while out.tell() < STREAM_BYTES:
            out.write(b"".join(line % n for n in range(number, number + 1000)))
            number += 1000

    def chunks() -> Iterator[bytes]:
        with open(path, "rb") as file:
            while chunk := file.read(STREAM_CHUNK):
                yield chunk

    validate(jsonl(*chats(10)))  # load the vocabulary before measuring
    tracemalloc.start()
    try:
        report = validate(chunks())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.valid and report.n_examples == number
    assert peak < path.stat().st_size / 4, peak


# -- the server ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    outcome: str
    code: str | None = None
    message: str | None = None
    job: Any = None


def server_decision(client: openai.OpenAI, server: Server, case: Case) -> Decision:
    """Upload the case's file, create the job, run the clock until it ends."""
    try:
        file = client.files.create(
            file=(case.path.name, case.path.read_bytes()), purpose="fine-tune"
        )
    except openai.BadRequestError as exc:
        return Decision(UPLOAD, exc.code, exc.message)
    method: dict[str, Any] = {"type": case.method}
    if case.method == RFT:
        method[RFT] = {
            "grader": {
                "type": "string_check",
                "name": "g",
                "input": "x",
                "reference": "y",
                "operation": "eq",
            }
        }
    try:
        job = client.fine_tuning.jobs.create(
            model=case.model,
            training_file=file.id,
            method=method,  # type: ignore[arg-type]
        )
    except openai.BadRequestError as exc:
        return Decision(CREATE, exc.code, exc.message)
    for _ in range(MAX_POLLS):
        job = client.fine_tuning.jobs.retrieve(job.id)
        if job.status in TERMINAL:
            break
        server.advance(POLL_SECONDS)
    error = job.error
    return Decision(
        job.status, error.code if error else None, error.message if error else None, job
    )


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_the_server_decides_as_the_report_says(
    client: openai.OpenAI, server: Server, case: Case
) -> None:
    decision = server_decision(client, server, case)
    assert decision.outcome == case.outcome, decision
    if case.outcome == CREATE:
        assert decision.code == "model_not_available"
        return
    if case.outcome == UPLOAD:
        if case.line is not None and case.path.suffix == ".jsonl":
            assert f"line {case.line} " in (decision.message or "").lower()
        return
    job = decision.job
    events = list(client.fine_tuning.jobs.list_events(job.id, limit=100))
    report = validate(case.path.read_bytes(), case.model, case.method)
    if case.outcome == FAILED:
        assert report.error is not None
        assert (job.error.code, job.error.param) == (report.error.code, "training_file")
        assert job.error.message == report.error.message.replace(
            "Input file f ", f"Input file {job.training_file} "
        )
        assert named_line(job.error.message) == case.line
        assert [e.message for e in events if e.level == "error"] == [job.error.message]
        return
    # Top-level hyperparameters are null for DPO and reinforcement jobs; the method shows them.
    used = getattr(job.method, job.method.type).hyperparameters
    assert job.trained_tokens == report.billable_tokens * used.n_epochs
    warned = [e.message for e in reversed(events) if e.level == "warn"]
    assert warned == [
        w.replace("Training file f:", f"Training file {job.training_file}:")
        for w in report.warnings
    ]


def test_a_bad_validation_file_fails_the_job(client: openai.OpenAI, server: Server) -> None:
    training = client.files.create(
        file=("t.jsonl", (FIXTURES / "train_chat.jsonl").read_bytes()), purpose="fine-tune"
    )
    bad = client.files.create(
        file=("v.jsonl", (BAD / "bad_role.jsonl").read_bytes()), purpose="fine-tune"
    )
    job = client.fine_tuning.jobs.create(
        model=CHAT_MODEL, training_file=training.id, validation_file=bad.id
    )
    server.advance(POLL_SECONDS * 2)
    failed = client.fine_tuning.jobs.retrieve(job.id)
    assert failed.status == "failed" and failed.error is not None
    assert (failed.error.code, failed.error.param) == ("invalid_file_format", "validation_file")
    assert failed.error.message.startswith(
        "The job failed due to a file format error in the validation file. "
        "Invalid file format. Example 5, "
        "message 2 has an unrecognized role"
    )
