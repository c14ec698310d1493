"""Token counts and token pieces, exact and offline, through ``bpe-openai``.

Nothing here touches the network. Counts come from the ``bpe-openai`` package (a runtime
dependency), which embeds the real ``cl100k_base`` and ``o200k_base`` vocabularies; its counts
equal tiktoken's. Every text model in the catalog (``mockft/fixtures/models.json``) tokenizes
with one of the two (``encoding_for_model``): the gpt-4o, gpt-4.1, o-series and newer families
with ``o200k_base``; gpt-3.5, gpt-4, ``babbage-002``, ``davinci-002`` and the embedding models
with ``cl100k_base``, as tiktoken maps them. So there is no estimate anywhere: a count is exact.

Text is counted as ordinary text: a special-token string such as ``<|endoftext|>`` counts as
the characters it is made of (``validation`` rejects such strings in training data, as the
real service does). ``bpe-openai`` refuses more than ``200,000`` tokens (and a million
characters) per call, so a text longer than ``MAX_CHARS_PER_CALL`` is counted in pieces cut
where the pre-tokenizer always cuts: after a newline followed by a non-space character, else
before a single space followed by a letter. Pieces cut there sum to the exact count; only a
window with neither (a 100,000-character run of one word or of whitespace) is cut anywhere,
which can be off by a token per cut.

Speed: the compiled tokenizer counts roughly 12-30 MB/s of text (less on multilingual text
than on English) and holds the GIL; each text is counted whole in one call, without building
its token list. Repeated texts (roles, a system prompt on every line) are memoised in bounded
caches that are emptied when full.

Chat formatting follows OpenAI's cookbook "How to count tokens with tiktoken": 3 tokens per
message, 1 more when a message has a ``name``, 3 priming the reply. On the cookbook's own
example (six messages, published counts 129 for gpt-3.5-turbo-0613 / gpt-4 and 124 for
gpt-4o) this gives exactly 129 and 124.
"""

from __future__ import annotations

import functools
import importlib
import importlib.machinery
import importlib.util
import json
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from mockft.synth import FINE_TUNED_PREFIX

CL100K_BASE: Final = "cl100k_base"
O200K_BASE: Final = "o200k_base"
ENCODINGS: Final = (CL100K_BASE, O200K_BASE)
DEFAULT_ENCODING: Final = CL100K_BASE

TOKENS_PER_MESSAGE: Final = 3
TOKENS_PER_NAME: Final = 1
REPLY_PRIMING_TOKENS: Final = 3
IMAGE_PART_TOKENS: Final = 85  # what one low-detail image costs
UNCOUNTED_MESSAGE_KEYS: Final = frozenset({"weight"})  # training controls, not model input

# The special tokens of cl100k_base and o200k_base. Training text may not contain them.
SPECIAL_TOKENS: Final = (
    "<|endoftext|>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|endofprompt|>",
)

BACKEND: Final = "bpe-openai"
BACKEND_MODULE: Final = "bpe_openai"

# bpe-openai refuses > 200,000 tokens or >= 1,000,000 characters per call; a character is at
# most 4 UTF-8 bytes and so at most 4 tokens, so 40,000 characters are always safe.
MAX_CHARS_PER_CALL: Final = 40_000
# Memoised counts, each table emptied when full: short strings (roles, names) and longer
# texts (a system prompt repeated on every line). At most ~1.5 MB in all.
SHORT_CACHE_MAX_CHARS: Final = 64
SHORT_CACHE_MAX_ENTRIES: Final = 4_096
CACHE_MAX_CHARS: Final = 4_096
CACHE_MAX_ENTRIES: Final = 256
_PROBE_TEXT: Final = "hello world, 微调 123"

# Model families served by o200k_base; everything else (gpt-3.5, gpt-4, babbage-002,
# davinci-002, embeddings) uses cl100k_base. Same prefix rule tiktoken applies.
O200K_MODEL_PREFIXES: Final = (
    "gpt-4o",
    "gpt-4.1",
    "gpt-4.5",
    "gpt-5",
    "chatgpt-4o",
    "o1",
    "o3",
    "o4",
)


def encoding_for_model(model: str) -> str:
    """The encoding a model (base, snapshot or ``ft:`` model) tokenizes with."""
    if model.startswith(FINE_TUNED_PREFIX):
        model = model.split(":")[1]
    return O200K_BASE if model.startswith(O200K_MODEL_PREFIXES) else CL100K_BASE


# -- exact counts through bpe-openai ------------------------------------------------------


def _safe_cut(text: str, start: int, end: int) -> int:
    """Where to end the piece that starts at ``start``: the last position before ``end``
    where the pre-tokenizer always cuts; ``end`` itself when there is none.

    It always cuts before a space that follows, or is followed by, a non-whitespace
    character (no pre-token holds a non-space character and then a space, and the last
    space before text always starts one); after a newline followed by a letter or digit;
    and between a letter and a digit. Not after a newline followed by other text: o200k's
    punctuation pre-token takes the newlines *and* a slash that follow it,
    so ``">\\n/"`` is one pre-token there. Python's whitespace is a superset of the
    tokenizers', so "not whitespace" here is never whitespace there."""
    for cut in range(end - 1, start, -1):
        before, after = text[cut - 1], text[cut]
        if after == " ":
            following = text[cut + 1] if cut + 1 < len(text) else ""
            if not before.isspace() or (following and not following.isspace()):
                return cut
        elif before == "\n":
            if after.isalnum():
                return cut
        elif after.isdecimal() and before.isalpha():
            return cut
    return end


def split_for_counting(text: str, max_chars: int = MAX_CHARS_PER_CALL) -> Iterator[str]:
    """``text`` in pieces of at most ``max_chars`` whose counts add up to the whole's."""
    start = 0
    while len(text) - start > max_chars:
        cut = _safe_cut(text, start, start + max_chars)
        yield text[start:cut]
        start = cut
    yield text[start:]


def _sanitized(text: str) -> str:
    """Lone surrogates (valid in JSON escapes, not in UTF-8) become U+FFFD."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


class _ExactCounter:
    """Exact counts through a ``bpe-openai`` encoder: one native call per text, and a
    bounded memo of short strings (roles, names) and of repeated longer texts (a system
    prompt on every line).

    Counting a text whole is also the fastest way: splitting prose at spaces and memoising
    each word's count (which an earlier version did) costs a Python call and a dict entry per
    word, more than the compiled tokenizer spends on the word itself (measured on a seeded
    multilingual chat file: 11.6 s against 7.4 s of CPU for 92 MB of message text, and no
    faster on English-only text)."""

    def __init__(self, count_piece: Callable[[str], int]) -> None:
        self._count_piece = count_piece
        self._short: dict[str, int] = {}
        self._texts: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        size = len(text)
        if size <= SHORT_CACHE_MAX_CHARS:
            cache, limit = self._short, SHORT_CACHE_MAX_ENTRIES
        elif size <= CACHE_MAX_CHARS:
            cache, limit = self._texts, CACHE_MAX_ENTRIES
        else:
            return self._whole(text)
        found = cache.get(text)
        if found is None:
            found = self._whole(text)
            if len(cache) >= limit:
                cache.clear()
            cache[text] = found
        return found

    def _whole(self, text: str) -> int:
        if len(text) > MAX_CHARS_PER_CALL:
            return sum(self._piece(piece) for piece in split_for_counting(text))
        return self._piece(text)

    def _piece(self, text: str) -> int:
        try:
            return self._count_piece(text)
        except UnicodeEncodeError:
            return self._count_piece(_sanitized(text))


def _encoder(encoding: str) -> Any:
    if encoding not in ENCODINGS:
        raise ValueError(f"Unknown encoding {encoding!r}; expected one of {', '.join(ENCODINGS)}")
    with warnings.catch_warnings():
        # bpe-openai 0.1.4 reads its vocabularies through a deprecated importlib API.
        warnings.simplefilter("ignore", DeprecationWarning)
        module: Any = importlib.import_module(BACKEND_MODULE)
        return module.get_encoding(encoding)


@dataclass(frozen=True)
class TokenCounter:
    """Counts and splits plain text with one encoding."""

    encoding: str
    name: str  # e.g. "bpe-openai:o200k_base"
    count: Callable[[str], int]
    pieces: Callable[[str], list[bytes]]  # the bytes of each token, in order
    vocabulary: Callable[[int], bytes]  # the bytes of an ordinary token, by rank (modulo)


def _compiled(encoding: str) -> Any:
    """bpe-openai's compiled tokenizer of ``encoding`` (``count``, ``encode``), or None.

    Importing the ``bpe_openai`` package builds Python tables of all three vocabularies it
    ships (cl100k_base, o200k_base, voyage3_base), ~0.7 s of CPU and ~77 MB, although the
    compiled tokenizer embeds its own: counting needs none of them. So the compiled module,
    ``bpe_openai._bindings``, is loaded from its file without running the package's
    ``__init__`` (and registered under its name, so that the package, when splitting into
    pieces imports it later, finds it loaded: an extension may be initialised only once).
    None when that file cannot be found this way (another layout): the caller then counts
    through the package."""
    name = BACKEND_MODULE + "._bindings"
    module = sys.modules.get(name)
    if module is None:
        package = importlib.util.find_spec(BACKEND_MODULE)
        folders = package.submodule_search_locations if package is not None else None
        found = [
            Path(folder) / f"_bindings{suffix}"
            for folder in folders or ()
            for suffix in importlib.machinery.EXTENSION_SUFFIXES
        ]
        path = next((f for f in found if f.is_file()), None)
        spec = importlib.util.spec_from_file_location(name, path) if path else None
        if spec is None or spec.loader is None:
            return None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception:
            del sys.modules[name]
            return None
    make = getattr(module, "tokenizer_for_encoding", None)
    compiled = make(encoding) if callable(make) else None
    return compiled if callable(getattr(compiled, "count", None)) else None


@functools.cache
def get_counter(encoding: str = DEFAULT_ENCODING) -> TokenCounter:
    """The counter for ``encoding`` (its vocabulary is loaded once per process)."""
    if encoding not in ENCODINGS:
        raise ValueError(f"Unknown encoding {encoding!r}; expected one of {', '.join(ENCODINGS)}")
    # The compiled tokenizer counts without building the token list (about 25 % faster)
    # and without the package's Python-side vocabulary tables: splitting into pieces loads
    # those on first use (inference does; validation never does). Its counts are the
    # package's own (tests/test_tokens.py holds them equal on the fixture corpus).
    compiled = _compiled(encoding)
    if compiled is not None:
        count_piece: Callable[[str], int] = compiled.count
    else:
        encoder = _encoder(encoding)

        def count_piece(text: str) -> int:
            return len(encoder.encode_ordinary(text))

    def pieces(text: str) -> list[bytes]:
        split = _splitter(encoding)
        found: list[bytes] = []
        for part in split_for_counting(_sanitized(text)):
            found.extend(map(split.decode_single_token_bytes, split.encode_ordinary(part)))
        return found

    def vocabulary(rank: int) -> bytes:
        split = _splitter(encoding)
        ordinary = int(split.eot_token)  # ordinary tokens rank below the first special one
        for offset in range(ordinary):  # cl100k_base has one unused rank below it
            try:
                piece: bytes = split.decode_single_token_bytes((rank + offset) % ordinary)
            except (KeyError, ValueError):
                continue
            return piece
        raise ValueError(f"{encoding} has no ordinary tokens")

    return TokenCounter(
        encoding, f"{BACKEND}:{encoding}", _ExactCounter(count_piece), pieces, vocabulary
    )


@functools.cache
def _splitter(encoding: str) -> Any:
    """The encoder that splits text into tokens (loaded when first needed)."""
    return _encoder(encoding)


def preload(encodings: Iterable[str] = ENCODINGS) -> None:
    """Load each encoding's vocabulary now (for counting and for splitting into pieces), so
    that no request pays for it: a server calls this before it accepts the first request."""
    for encoding in encodings:
        counter = get_counter(encoding)
        counter.count(_PROBE_TEXT)
        counter.pieces(_PROBE_TEXT)


# -- text, messages, examples -------------------------------------------------------------


def count_text(text: str, *, encoding: str = DEFAULT_ENCODING) -> int:
    return get_counter(encoding).count(text)


def token_pieces(text: str, *, encoding: str = DEFAULT_ENCODING) -> list[bytes]:
    """The bytes of each token of ``text``, in order (they join back to its UTF-8)."""
    return get_counter(encoding).pieces(text)


def count_messages(
    messages: Sequence[Mapping[str, Any]], *, encoding: str = DEFAULT_ENCODING
) -> int:
    """Prompt tokens of a chat conversation, as the cookbook counts them."""
    count = get_counter(encoding).count
    return _messages_tokens(messages, count) + REPLY_PRIMING_TOKENS


def count_example(example: Mapping[str, Any], *, encoding: str = DEFAULT_ENCODING) -> int:
    """Tokens of one training example: chat, prompt-completion or DPO.

    Chat: the conversation plus the JSON of ``tools`` / ``functions``. Prompt-completion: prompt
    plus completion, no chat overhead. DPO: the input conversation (and its tools) plus every
    message of ``preferred_output`` and ``non_preferred_output``. Reinforcement examples count
    as chat: their extra (grader) fields are not model input.
    """
    return example_tokens(example, get_counter(encoding).count)


def example_tokens(example: Mapping[str, Any], count: Callable[[str], int]) -> int:
    """``count_example`` with the text counter already chosen (for counting many examples)."""
    if "messages" in example:
        return (
            _messages_tokens(_as_messages(example["messages"]), count)
            + REPLY_PRIMING_TOKENS
            + _definitions_tokens(example, count)
        )
    if "input" in example or "preferred_output" in example:
        source = example.get("input")
        prompt: Mapping[str, Any] = source if isinstance(source, Mapping) else {}
        outputs = [
            *_as_messages(example.get("preferred_output")),
            *_as_messages(example.get("non_preferred_output")),
        ]
        return (
            _messages_tokens(_as_messages(prompt.get("messages")), count)
            + REPLY_PRIMING_TOKENS
            + _definitions_tokens(prompt, count)
            + _definitions_tokens(example, count)
            + _messages_tokens(outputs, count)
        )
    if "prompt" in example or "completion" in example:
        return sum(
            _value_tokens(example[key], count)
            for key in ("prompt", "completion")
            if example.get(key) is not None
        )
    raise ValueError(
        "Unrecognised example: expected 'messages', 'prompt'/'completion' or 'input' with "
        "'preferred_output'/'non_preferred_output'"
    )


def _as_messages(value: object) -> list[Mapping[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _messages_tokens(messages: Iterable[Mapping[str, Any]], count: Callable[[str], int]) -> int:
    total = 0
    for message in messages:
        total += TOKENS_PER_MESSAGE
        for key, value in message.items():
            if key in UNCOUNTED_MESSAGE_KEYS or value is None:
                continue
            if type(value) is str:
                total += count(value)
            elif key == "content" and isinstance(value, list):
                total += sum(_content_part_tokens(part, count) for part in value)
            else:
                total += _value_tokens(value, count)
            if key == "name":
                total += TOKENS_PER_NAME
    return total


def _content_part_tokens(part: object, count: Callable[[str], int]) -> int:
    if isinstance(part, str):
        return count(part)
    if isinstance(part, Mapping):
        text = part.get("text")
        if isinstance(text, str):
            return count(text)
        if part.get("type") in ("image_url", "input_image"):
            return IMAGE_PART_TOKENS
    return _value_tokens(part, count)


def _definitions_tokens(holder: Mapping[str, Any], count: Callable[[str], int]) -> int:
    return sum(
        _value_tokens(holder[key], count)
        for key in ("tools", "functions")
        if holder.get(key) is not None
    )


def _value_tokens(value: object, count: Callable[[str], int]) -> int:
    if isinstance(value, str):
        return count(value)
    return count(json.dumps(value, ensure_ascii=False))
