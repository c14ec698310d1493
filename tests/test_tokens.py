from __future__ import annotations

import functools
import json
import socket
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mockft import tokens
from mockft.catalog import load_catalog
from mockft.tokens import (
    CL100K_BASE,
    O200K_BASE,
    count_example,
    count_messages,
    count_text,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

# The message list of OpenAI's cookbook "How to count tokens with tiktoken"; published prompt
# token counts: 129 for gpt-3.5-turbo-0613 / gpt-4-0613 (cl100k_base), 124 for gpt-4o /
# gpt-4o-mini (o200k_base).
COOKBOOK_MESSAGES = [
    {
        "role": "system",
        "content": "You are a helpful, pattern-following assistant that translates corporate "
        "jargon into plain English.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "New synergies will help drive top-line growth.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Things working well together will increase revenue.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "Let's circle back when we have more bandwidth to touch base on "
        "opportunities for increased leverage.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Let's talk later when we're less busy about how to do better.",
    },
    {
        "role": "user",
        "content": "This late pivot means we don't have time to boil the ocean for the client "
        "deliverable.",
    },
]
COOKBOOK_COUNTS = {CL100K_BASE: 129, O200K_BASE: 124}

# Strings from the same cookbook's encoding comparison, with its published counts.
SHORT_ANCHORS = {
    "tiktoken is great!": {CL100K_BASE: 6, O200K_BASE: 6},
    "antidisestablishmentarianism": {CL100K_BASE: 6, O200K_BASE: 6},
    "2 + 2 = 4": {CL100K_BASE: 7, O200K_BASE: 7},
    "お誕生日おめでとう": {CL100K_BASE: 9, O200K_BASE: 8},
}

# Per-file totals of count_example over fixtures/*.jsonl, measured with tiktoken itself (see
# fixtures/README.md): counting must give exactly these numbers.
FIXTURE_COUNTS = {
    "train_chat.jsonl": {CL100K_BASE: 779, O200K_BASE: 754},
    "valid_chat.jsonl": {CL100K_BASE: 500, O200K_BASE: 482},
    "train_prompt_completion.jsonl": {CL100K_BASE: 430, O200K_BASE: 421},
    "train_dpo.jsonl": {CL100K_BASE: 753, O200K_BASE: 751},
    "train_tools.jsonl": {CL100K_BASE: 2684, O200K_BASE: 2676},
    "train_weights.jsonl": {CL100K_BASE: 676, O200K_BASE: 658},
}

PROSE = (
    "Fine-tuning lets you get more out of the models available through the API. OpenAI's "
    "text generation models have been pre-trained on a vast amount of text; to use them "
    "effectively we include instructions and sometimes several examples in a prompt. "
    "Using demonstrations to show how to perform a task is often called few-shot learning. "
    '{"messages": [{"role": "user", "content": "What\'s 2 + 2?"}]} 384,400 km — 微调模型。\n\n'
)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("tokens tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def read_jsonl(name: str) -> list[dict[str, Any]]:
    lines = (FIXTURES / name).read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


# -- plain text ---------------------------------------------------------------------------


def test_small_cases() -> None:
    assert count_text("") == 0
    assert count_text("a") == 1
    assert count_text(" ") == 1
    assert count_text("hello") == 1
    assert count_text("Hello, world!") == 4
    assert count_text("1234567") == 3  # digits go three at a time
    assert count_text("don't") == 2


@pytest.mark.parametrize("encoding", tokens.ENCODINGS)
def test_more_words_more_tokens(encoding: str) -> None:
    words = [count_text("sarcastic chatbot " * n, encoding=encoding) for n in range(1, 40)]
    assert all(a < b for a, b in zip(words, words[1:]))


def test_cjk_is_cheaper_in_o200k() -> None:
    text = "微调允许您通过提供以下内容从API提供的模型中获得更多收益"
    assert count_text(text, encoding=O200K_BASE) < count_text(text, encoding=CL100K_BASE)


# -- messages -----------------------------------------------------------------------------


def test_chat_overhead() -> None:
    per_message, per_name, priming = 3, 1, 3
    assert count_messages([]) == priming
    user = count_text("user")
    assert count_messages([{"role": "user", "content": ""}]) == per_message + user + priming
    hi = count_messages([{"role": "user", "content": "Hi"}])
    assert hi == per_message + user + count_text("Hi") + priming
    named = count_messages([{"role": "user", "name": "bob", "content": "Hi"}])
    assert named == hi + count_text("bob") + per_name
    two = count_messages([{"role": "user", "content": "Hi"}, {"role": "user", "content": "Hi"}])
    assert two == 2 * hi - priming


def test_message_values() -> None:
    plain = count_messages([{"role": "assistant", "content": "Paris"}])
    assert count_messages([{"role": "assistant", "content": "Paris", "weight": 0}]) == plain
    parts = [{"type": "text", "text": "Paris"}]
    assert count_messages([{"role": "assistant", "content": parts}]) == plain
    image = [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]
    with_image = count_messages([{"role": "user", "content": image}])
    assert with_image == count_messages([{"role": "user", "content": ""}]) + 85
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    }
    tool_calls = count_messages([{"role": "assistant", "content": None, "tool_calls": [call]}])
    assert tool_calls == count_messages([{"role": "assistant"}]) + count_text(json.dumps([call]))
    legacy = count_messages([{"role": "assistant", "function_call": call["function"]}])
    assert legacy > count_messages([{"role": "assistant"}])


# -- examples -----------------------------------------------------------------------------


def test_chat_example_counts_messages_and_tools() -> None:
    example = read_jsonl("train_tools.jsonl")[0]
    messages = count_messages(example["messages"])
    assert count_example(example) == messages + count_text(json.dumps(example["tools"]))
    chat = read_jsonl("train_chat.jsonl")[0]
    assert count_example(chat) == count_messages(chat["messages"])
    legacy = {"messages": chat["messages"], "functions": [{"name": "f", "parameters": {}}]}
    assert count_example(legacy) > count_example(chat)


def test_prompt_completion_example_has_no_chat_overhead() -> None:
    example = read_jsonl("train_prompt_completion.jsonl")[0]
    expected = count_text(example["prompt"]) + count_text(example["completion"])
    assert count_example(example) == expected


def test_dpo_example_counts_prompt_and_both_outputs() -> None:
    example = read_jsonl("train_dpo.jsonl")[0]
    prompt = count_messages(example["input"]["messages"])
    preferred = count_messages(example["preferred_output"]) - 3
    rejected = count_messages(example["non_preferred_output"]) - 3
    assert count_example(example) == prompt + preferred + rejected


def test_weights_example_ignores_weight_keys() -> None:
    example = read_jsonl("train_weights.jsonl")[0]
    stripped = [{k: v for k, v in m.items() if k != "weight"} for m in example["messages"]]
    assert count_example(example) == count_messages(stripped)


def test_unrecognised_example() -> None:
    with pytest.raises(ValueError, match="Unrecognised example"):
        count_example({"conversation": []})


# -- exact counts through bpe-openai -------------------------------------------------------

# Characters that stress the pre-tokenizer: spaces next to other whitespace, newlines after
# punctuation, contractions, digits, CJK, emoji, non-ASCII whitespace, a lone surrogate.
TRICKY = st.lists(
    st.sampled_from(
        list("abXY .,!?'-/\n\t\r019")
        + ["é", "微", "\u00a0", "\u3000", "\x0b", "\x1c", "\x85", "😀", "\u2028", "\ud800"]
        + ["'s", "'ll", "  ", "\n\n", " \n", "Hello", " world", "ing", "<|endoftext|>"]
    ),
    max_size=40,
).map("".join)


@functools.cache
def bpe_encoding(encoding: str) -> Any:
    """bpe-openai's public API, as a user would call it (tiktoken-compatible)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # its data loading, not ours
        import bpe_openai

        return bpe_openai.get_encoding(encoding)


def real_count(text: str, encoding: str) -> int:
    clean = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return len(bpe_encoding(encoding).encode_ordinary(clean))


@pytest.mark.usefixtures("no_network")
def test_exact_counts_offline() -> None:
    for encoding in tokens.ENCODINGS:
        assert tokens.get_counter(encoding).name == f"bpe-openai:{encoding}"
        assert count_text("hello world", encoding=encoding) == 2
    assert count_text("") == 0


@pytest.mark.parametrize("encoding", tokens.ENCODINGS)
def test_cookbook_counts_are_exact(encoding: str) -> None:
    assert count_messages(COOKBOOK_MESSAGES, encoding=encoding) == COOKBOOK_COUNTS[encoding]
    for text, published in SHORT_ANCHORS.items():
        assert count_text(text, encoding=encoding) == published[encoding]


@pytest.mark.parametrize("name", sorted(FIXTURE_COUNTS))
@pytest.mark.parametrize("encoding", tokens.ENCODINGS)
def test_fixture_files_match_tiktoken(name: str, encoding: str) -> None:
    total = sum(count_example(e, encoding=encoding) for e in read_jsonl(name))
    assert total == FIXTURE_COUNTS[name][encoding]


@settings(max_examples=400, deadline=None)
@given(text=TRICKY)
def test_memoised_counts_equal_the_tokenizer(text: str) -> None:
    for encoding in tokens.ENCODINGS:
        counter = tokens.get_counter(encoding)
        assert counter.count(text) == real_count(text, encoding)
        assert counter.count(text) == real_count(text, encoding)  # again, from the caches


@settings(max_examples=200, deadline=None)
@given(text=TRICKY, start=st.integers(0, 40), width=st.integers(2, 40))
@example(text="<|endoftext|>\n\n/", start=0, width=16)  # o200k glues "|>\n\n/" together
def test_safe_cuts_do_not_change_the_count(text: str, start: int, width: int) -> None:
    start = min(start, max(0, len(text) - 1))
    end = min(len(text), start + width)
    cut = tokens._safe_cut(text, start, end)
    assert start < cut <= end or (start == cut == end)
    if cut < end:  # a cut found inside the window is one the tokenizer makes too
        for encoding in tokens.ENCODINGS:
            whole = real_count(text[start:], encoding)
            assert real_count(text[start:cut], encoding) + real_count(text[cut:], encoding) == whole


def test_texts_beyond_the_per_call_limit_are_counted_in_pieces() -> None:
    unit = "hello world\n"  # "hello", " world", "\n": a newline before a letter always cuts
    text = unit * 100_000  # 1.2M characters, 300,000 tokens: too many for one bpe-openai call
    with pytest.raises(ValueError):
        bpe_encoding(CL100K_BASE).encode_ordinary(text)
    assert count_text(text) == 3 * 100_000
    pieces = list(tokens.split_for_counting(text))
    assert "".join(pieces) == text and max(map(len, pieces)) <= tokens.MAX_CHARS_PER_CALL
    # No newline, and double spaces so it is counted whole: cut at spaces and letter/digit
    # boundaries, still exact.
    one_line = "ab12  x " * 30_000
    assert count_text(one_line) == real_count(one_line, CL100K_BASE)
    pieces = list(tokens.split_for_counting(one_line))
    assert len(pieces) > 1
    assert sum(real_count(piece, CL100K_BASE) for piece in pieces) == count_text(one_line)


def test_lone_surrogates_count_as_replacement_characters() -> None:
    assert (
        count_text("\ud800 hi") == count_text("\ufffd hi") == real_count("\ud800 hi", CL100K_BASE)
    )


def test_caches_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "SHORT_CACHE_MAX_ENTRIES", 5)
    monkeypatch.setattr(tokens, "CACHE_MAX_ENTRIES", 4)
    counter = tokens.get_counter(CL100K_BASE).count
    for number in range(200):
        for text in (
            f"sentence {number} with word{number} and more{number}",
            f"padded  to be long enough for the middle cache, number {number}" * 2,
        ):
            assert counter(text) == counter(text) == real_count(text, CL100K_BASE)
        assert len(counter._short) <= 5  # type: ignore[attr-defined]
        assert len(counter._texts) <= 4  # type: ignore[attr-defined]


# -- backends -----------------------------------------------------------------------------


def test_encoding_for_model() -> None:
    assert tokens.encoding_for_model("gpt-4o-mini-2024-07-18") == O200K_BASE
    assert tokens.encoding_for_model("gpt-4.1-nano") == O200K_BASE
    assert tokens.encoding_for_model("o4-mini-2025-04-16") == O200K_BASE
    assert tokens.encoding_for_model("gpt-3.5-turbo-0125") == CL100K_BASE
    assert tokens.encoding_for_model("babbage-002") == CL100K_BASE
    assert tokens.encoding_for_model("ft:gpt-4o-mini-2024-07-18:org::abc123") == O200K_BASE
    assert tokens.encoding_for_model("ft:gpt-3.5-turbo-0125:org:sfx:abc123") == CL100K_BASE


def test_unknown_encoding() -> None:
    with pytest.raises(ValueError, match="Unknown encoding"):
        count_text("hi", encoding="r50k_base")


def test_every_catalog_text_model_has_an_offline_encoding() -> None:
    for model in load_catalog():
        if model.context_window is None:  # not a text model (whisper, tts, dall-e)
            continue
        encoding = tokens.encoding_for_model(model.id)
        assert tokens.get_counter(encoding).name == f"bpe-openai:{encoding}"


@pytest.mark.parametrize("encoding", tokens.ENCODINGS)
def test_token_pieces_are_the_tokens(encoding: str) -> None:
    for text in ("Hello world, 微调 baseball! 😀", PROSE, "", "\ud800 x"):
        pieces = tokens.token_pieces(text, encoding=encoding)
        clean = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        assert b"".join(pieces) == clean.encode()
        assert len(pieces) == count_text(text, encoding=encoding) == real_count(text, encoding)
    # a character split across tokens: the pieces are bytes, not always whole characters
    assert tokens.token_pieces("微调", encoding=O200K_BASE) == ["微".encode(), "调".encode()]
    assert any(len(p) == 1 for p in tokens.token_pieces("😀", encoding=CL100K_BASE))


def test_counting_builds_no_python_vocabulary_tables() -> None:
    """Counting needs only the compiled tokenizer: in a fresh process, a count leaves the
    bpe-openai package (whose import builds Python tables of all three of its vocabularies)
    unimported; splitting into pieces imports it afterwards, reusing the compiled module, and
    both agree with the package's own count."""
    script = (
        "import sys; from mockft import tokens\n"
        "text = 'Grüße, 微调 — hello world 123'\n"
        "n = tokens.count_text(text, encoding='o200k_base')\n"
        "print(n, 'bpe_openai' in sys.modules, 'bpe_openai.compat' in sys.modules)\n"
        "pieces = tokens.token_pieces(text, encoding='o200k_base')\n"
        "import bpe_openai\n"
        "public = len(bpe_openai.get_encoding('o200k_base').encode_ordinary(text))\n"
        "print(len(pieces), b''.join(pieces) == text.encode(), public)\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script], capture_output=True, text=True, check=True
    )
    counted, after = done.stdout.splitlines()
    n, package, compat = counted.split()
    assert (package, compat) == ("False", "False")
    pieces, joined, public = after.split()
    assert int(n) == int(pieces) == int(public) and joined == "True"
