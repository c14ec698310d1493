"""Token counting for training data: exact through ``bpe-openai``, estimated only without it.

Nothing here touches the network. Exact counts come from the ``bpe-openai`` package (a runtime
dependency), which embeds the real ``cl100k_base`` and ``o200k_base`` vocabularies; its counts
equal tiktoken's. If it cannot be imported, a deterministic estimator (below) takes over.
``MOCKFT_TOKENIZER`` picks the backend: ``auto`` (default: exact, else the estimator),
``estimate`` (always the estimator) or ``exact`` (``bpe-openai`` or an error).

Exact counting
--------------
Text is counted as ordinary text: a special-token string such as ``<|endoftext|>`` counts as
the characters it is made of (``validation`` rejects such strings in training data, as the
real service does). ``bpe-openai`` refuses more than ``200,000`` tokens (and a million
characters) per call, so a text longer than ``MAX_CHARS_PER_CALL`` is counted in pieces cut
where the pre-tokenizer always cuts: after a newline followed by a non-space character, else
before a single space followed by a letter. Pieces cut there sum to the exact count; only a
window with neither (a 100,000-character run of one word or of whitespace) is cut anywhere,
which can be off by a token per cut.

Speed: the tokenizer runs at roughly 10-40 MB/s of text (slower on rare words) and holds the
GIL. Text in which no space follows another whitespace character (most prose) is counted
word by word instead: a space after a non-space character always starts a pre-token, so the
count is the sum of the counts of ``" " + word``, and those are memoised (natural language
repeats its words). Repeated texts (roles, a system prompt on every line) are memoised too.
All caches are bounded (a few MB) and emptied when full.

The estimator
-------------
1. Split the text with a stdlib-``re`` version of the cl100k pre-tokenizer pattern: contractions,
   letter runs with one optional leading non-letter, digit runs of at most 3, punctuation runs,
   whitespace runs. BPE never merges across these pieces, so the total is a sum over pieces.
2. Price each piece. Digit runs, whitespace runs and contractions: 1. A letter run: 1 up to
   ``free_letters`` letters, then one more token per ``letters_per_extra_token`` letters;
   camelCase is priced per hump, ALL-CAPS at ``upper_letters_per_token`` letters a token, CJK
   and other non-ASCII letters per character; a leading punctuation character (``"word``,
   ``(word``) adds a fraction. A punctuation run: 1, plus a fraction per extra distinct
   character run (long runs of one repeated character, like ``-----``, are cheap).
3. Sum, scale, round half up. The parameters were fitted per encoding against real
   ``cl100k_base`` and ``o200k_base`` counts on one half of ~2,900 documents (Python reference
   prose, OpenAPI descriptions, git release notes, licences, JSON, Python source, mixed
   Chinese/English) plus four of the fixture files; the table is for the other half.

Measured error against the real encodings (estimate - exact; "mean" and "worst" are per
document, documents of 20+ tokens; cl100k / o200k):

=======================================  ===============  ============  ===========
held-out documents                       error of total   mean |error|  worst
=======================================  ===============  ============  ===========
Python reference prose (249)             -0.8 / -1.0 %    2.2 / 2.3 %   12 / 12 %
OpenAPI descriptions (151)               -1.0 / -0.6 %    4.0 / 3.7 %   20 / 20 %
git release notes (108)                  -2.1 / -2.1 %    2.7 / 2.7 %   12 / 12 %
licence text (48)                        -0.4 / -0.2 %    1.4 / 1.2 %   12 / 12 %
JSON (158)                               -0.7 / -0.3 %    2.0 / 2.0 %   13 / 16 %
Python source (68)                       -1.2 / -0.7 %    2.9 / 3.2 %   18 / 19 %
Chinese/English mix (78 / 73)            -2.1 / -2.1 %    7.3 / 6.5 %   30 / 22 %
=======================================  ===============  ============  ===========

On ``fixtures/*.jsonl`` (67 examples, ``count_example``) file totals are off by -7.4 % to
-1.2 % (cl100k) and -4.3 % to -0.8 % (o200k), one example by at most 11.4 % / 7.2 %; short
conversational English with proper nouns is underestimated most. Expect a training file to
be within a few per cent (up to ~8 %, usually low) and a single short example within ~12 %; a
single word can be one token or three, so the estimator is for file totals, cost estimates
and limits, not exact budgets.

Chat formatting follows OpenAI's cookbook "How to count tokens with tiktoken": 3 tokens per
message, 1 more when a message has a ``name``, 3 priming the reply. On the cookbook's own
example (six messages, published counts 129 for gpt-3.5-turbo-0613 / gpt-4 and 124 for
gpt-4o) exact counting gives exactly 129 and 124; the estimator gives 125 and 126
(-3.1 % / +1.6 %).
"""

from __future__ import annotations

import functools
import importlib
import json
import math
import os
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

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

TOKENIZER_ENV: Final = "MOCKFT_TOKENIZER"
MODE_AUTO: Final = "auto"
MODE_ESTIMATE: Final = "estimate"
MODE_EXACT: Final = "exact"
MODES: Final = (MODE_AUTO, MODE_ESTIMATE, MODE_EXACT)
ESTIMATOR_VERSION: Final = "mockft-estimate-1"
EXACT_BACKEND: Final = "bpe-openai"
EXACT_MODULE: Final = "bpe_openai"

# bpe-openai refuses > 200,000 tokens or >= 1,000,000 characters per call; a character is at
# most 4 UTF-8 bytes and so at most 4 tokens, so 40,000 characters are always safe.
MAX_CHARS_PER_CALL: Final = 40_000
# Memoised counts, each table emptied when full: short strings (roles, names, first
# words), longer texts (a system prompt repeated on every line), and space-separated words.
# At most ~4 MB in all.
SHORT_CACHE_MAX_CHARS: Final = 64
SHORT_CACHE_MAX_ENTRIES: Final = 4_096
CACHE_MAX_CHARS: Final = 4_096
CACHE_MAX_ENTRIES: Final = 256
WORD_CACHE_MAX_CHARS: Final = 128
WORD_CACHE_MAX_ENTRIES: Final = 16_384
# A space right after a whitespace character (Python's whitespace, a superset of the
# tokenizers' \s): where splitting at spaces could cut inside a pre-token.
_SPACE_AFTER_WHITESPACE: Final = re.compile(r" (?<=\s )")
_ASCII_WHITESPACE: Final = "\n\t\r\x0b\x0c\x1c\x1d\x1e\x1f"  # all but the space
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
FINE_TUNED_PREFIX: Final = "ft:"


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
    space before text always starts one); after a newline followed by non-whitespace; and
    between a letter and a digit. Python's whitespace is a superset of the tokenizers', so
    "not whitespace" here is never whitespace there."""
    for cut in range(end - 1, start, -1):
        before, after = text[cut - 1], text[cut]
        if after == " ":
            following = text[cut + 1] if cut + 1 < len(text) else ""
            if not before.isspace() or (following and not following.isspace()):
                return cut
        elif before == "\n":
            if not after.isspace():
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


def _splits_safely(text: str, words: list[str]) -> bool:
    """Whether no space of ``text`` (split into ``words`` at spaces) follows whitespace."""
    if words.count("") > (words[0] == ""):  # two spaces in a row, or a final one
        return False
    if text.isascii():
        for char in _ASCII_WHITESPACE:
            if char in text:
                break
        else:
            return True  # spaces are its only whitespace, and never two in a row
    return _SPACE_AFTER_WHITESPACE.search(text) is None


class _SpacedWords(dict[str, int]):
    """Token counts of ``" " + word``, keyed by ``word``, filled on demand."""

    def __init__(self, count: Callable[[str], int]) -> None:
        super().__init__()
        self._count = count

    def __missing__(self, word: str) -> int:
        found = self._count(" " + word)
        if len(word) <= WORD_CACHE_MAX_CHARS:
            self[word] = found
        return found


class _ExactCounter:
    """Exact counts through a ``bpe-openai`` encoder, memoised where that is cheap.

    A space whose previous character is not whitespace always starts a pre-token in both
    encodings (no pre-token pattern can hold a non-space character followed by a space), so
    when no space follows whitespace, ``text.split(" ")`` cuts only where the tokenizer cuts
    too, and the count is the first word's plus that of each ``" " + word`` (each memoised:
    natural language repeats its words). Other texts are counted whole."""

    def __init__(self, count_piece: Callable[[str], int]) -> None:
        self._count_piece = count_piece
        self._short: dict[str, int] = {}
        self._texts: dict[str, int] = {}
        self._words = _SpacedWords(self._whole)

    def __call__(self, text: str) -> int:
        size = len(text)
        cache = (
            self._short
            if size <= SHORT_CACHE_MAX_CHARS
            else self._texts
            if size <= CACHE_MAX_CHARS
            else None
        )
        if cache is not None:
            found = cache.get(text)
            if found is not None:
                return found
        words = text.split(" ")
        if len(words) > 1 and _splits_safely(text, words):
            found = sum(map(self._words.__getitem__, words[1:]))
            if words[0]:
                found += self(words[0])
            if len(self._words) > WORD_CACHE_MAX_ENTRIES:
                self._words.clear()
        else:
            found = self._whole(text)
        if cache is not None:
            if len(cache) >= (
                SHORT_CACHE_MAX_ENTRIES if cache is self._short else CACHE_MAX_ENTRIES
            ):
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


def _load_exact(encoding: str) -> Callable[[str], int] | None:
    try:
        with warnings.catch_warnings():
            # bpe-openai 0.1.4 reads its vocabularies through a deprecated importlib API.
            warnings.simplefilter("ignore", DeprecationWarning)
            module: Any = importlib.import_module(EXACT_MODULE)
            encoder: Any = module.get_encoding(encoding)
    except Exception:  # not installed, or an incompatible version
        return None

    def public(text: str) -> int:
        return len(encoder.encode_ordinary(text))

    # The compiled tokenizer counts without building the token list (about 25 % faster);
    # use it only when it agrees with the public API.
    raw = getattr(getattr(encoder, "_backend", None), "count", None)
    count_piece: Callable[[str], int] = public
    if callable(raw):
        try:
            if raw(_PROBE_TEXT) == public(_PROBE_TEXT):
                count_piece = raw
        except Exception:
            pass
    return _ExactCounter(count_piece)


# -- the estimator ------------------------------------------------------------------------


@dataclass(frozen=True)
class EstimatorParams:
    free_letters: int  # a lowercase or Capitalised run up to this long is one token
    letters_per_extra_token: float  # beyond that, one more token per this many letters
    upper_letters_per_token: float  # ALL-CAPS runs
    cjk_per_char: float
    other_non_ascii_per_char: float
    ascii_letters_per_token_mixed: float  # ASCII letters inside a non-ASCII run
    punct_lead_cost: float  # extra for a letter run led by punctuation, e.g. '"word'
    punct_free_units: int  # character runs a punctuation piece holds in one token
    punct_unit_cost: float  # each further run
    repeat_run_letters: int  # a run of one repeated character costs 1 unit per this many
    scale: float  # overall bias correction


ESTIMATOR_PARAMS: Final[Mapping[str, EstimatorParams]] = {
    CL100K_BASE: EstimatorParams(
        free_letters=12,
        letters_per_extra_token=3.0,
        upper_letters_per_token=5.0,
        cjk_per_char=1.0,
        other_non_ascii_per_char=0.5,
        ascii_letters_per_token_mixed=4.0,
        punct_lead_cost=0.3,
        punct_free_units=3,
        punct_unit_cost=0.5,
        repeat_run_letters=8,
        scale=1.02,
    ),
    O200K_BASE: EstimatorParams(
        free_letters=12,
        letters_per_extra_token=3.0,
        upper_letters_per_token=5.0,
        cjk_per_char=0.7,
        other_non_ascii_per_char=0.5,
        ascii_letters_per_token_mixed=4.0,
        punct_lead_cost=0.4,
        punct_free_units=3,
        punct_unit_cost=0.5,
        repeat_run_letters=8,
        scale=1.02,
    ),
}

_PRETOKENIZE: Final = re.compile(
    r"'(?i:[sdmt]|ll|ve|re)"  # contractions
    r"|(?:[^\r\n\w]|_)?[^\W\d_]+"  # a letter run, with one optional leading non-letter
    r"|\d{1,3}"  # digits, at most three at a time
    r"| ?(?:[^\s\w]|_)+[\r\n]*"  # a punctuation run
    r"|\s*[\r\n]+"  # whitespace ending in a newline
    r"|\s+(?!\S)"  # whitespace not followed by text
    r"|\s+"
)
_CAMEL_HUMPS: Final = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+")
_SAME_CHARACTER_RUNS: Final = re.compile(r"(.)\1*", re.DOTALL)
_CONTRACTIONS: Final = frozenset({"s", "d", "m", "t", "ll", "ve", "re"})
_CJK_RANGES: Final = (
    (0x3000, 0x9FFF),  # CJK punctuation, kana, unified ideographs
    (0xAC00, 0xD7AF),  # Hangul syllables
    (0xF900, 0xFAFF),  # compatibility ideographs
    (0xFF00, 0xFFEF),  # full-width forms
    (0x20000, 0x3FFFF),  # supplementary ideographs
)


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _CJK_RANGES)


def _hump_cost(hump: str, p: EstimatorParams) -> float:
    if len(hump) > 1 and hump.isupper():
        return max(1.0, len(hump) / p.upper_letters_per_token)
    return 1.0 + max(0, len(hump) - p.free_letters) / p.letters_per_extra_token


def _letters_cost(run: str, p: EstimatorParams) -> float:
    if run.isascii():
        return sum(_hump_cost(hump, p) for hump in _CAMEL_HUMPS.findall(run))
    cjk = sum(1 for char in run if _is_cjk(char))
    other = sum(1 for char in run if not char.isascii()) - cjk
    ascii_letters = len(run) - cjk - other
    return max(
        1.0,
        cjk * p.cjk_per_char
        + other * p.other_non_ascii_per_char
        + ascii_letters / p.ascii_letters_per_token_mixed,
    )


def _punctuation_cost(run: str, p: EstimatorParams) -> float:
    units = sum(
        1 + (len(same.group()) - 1) // p.repeat_run_letters
        for same in _SAME_CHARACTER_RUNS.finditer(run)
    )
    return 1.0 + max(0, units - p.punct_free_units) * p.punct_unit_cost


@functools.lru_cache(maxsize=65536)
def _piece_cost(piece: str, p: EstimatorParams) -> float:
    first = piece[0]
    if first == "'" and piece[1:].lower() in _CONTRACTIONS:
        return 1.0
    if first.isalpha():
        return _letters_cost(piece, p)
    if len(piece) > 1 and piece[1].isalpha():
        lead = 0.0 if first == " " else p.punct_lead_cost
        return lead + _letters_cost(piece[1:], p)
    if first.isdecimal() or piece.isspace():
        return 1.0
    return _punctuation_cost(piece.rstrip("\r\n"), p)


def estimate_text(text: str, encoding: str = DEFAULT_ENCODING) -> int:
    """The estimator's count for ``text`` (whatever backend is active)."""
    p = _estimator_params(encoding)
    total = sum(_piece_cost(piece, p) for piece in _PRETOKENIZE.findall(text))
    return math.floor(total * p.scale + 0.5)


def _estimator_params(encoding: str) -> EstimatorParams:
    try:
        return ESTIMATOR_PARAMS[encoding]
    except KeyError:
        raise ValueError(
            f"Unknown encoding {encoding!r}; expected one of {', '.join(ENCODINGS)}"
        ) from None


# -- choosing a backend -------------------------------------------------------------------


@dataclass(frozen=True)
class TokenCounter:
    """Counts the tokens of plain text with one encoding and one backend."""

    encoding: str
    name: str  # "bpe-openai:cl100k_base" or "mockft-estimate-1:cl100k_base"
    exact: bool
    count: Callable[[str], int]


def tokenizer_mode() -> str:
    mode = os.environ.get(TOKENIZER_ENV, MODE_AUTO).strip().lower() or MODE_AUTO
    if mode not in MODES:
        raise ValueError(f"{TOKENIZER_ENV}={mode!r}; expected one of {', '.join(MODES)}")
    return mode


def get_counter(encoding: str = DEFAULT_ENCODING, mode: str | None = None) -> TokenCounter:
    """The counter for ``encoding`` in ``mode`` (default: the ``MOCKFT_TOKENIZER`` mode)."""
    if mode is None:
        mode = tokenizer_mode()
    elif mode not in MODES:
        raise ValueError(f"Unknown tokenizer mode {mode!r}; expected one of {', '.join(MODES)}")
    return _counter(encoding, mode)


@functools.cache
def _counter(encoding: str, mode: str) -> TokenCounter:
    _estimator_params(encoding)  # reject unknown encodings in every mode
    exact = None if mode == MODE_ESTIMATE else _load_exact(encoding)
    if exact is not None:
        return TokenCounter(encoding, f"{EXACT_BACKEND}:{encoding}", True, exact)
    if mode == MODE_EXACT:
        raise RuntimeError(
            f"{TOKENIZER_ENV}={MODE_EXACT} but {EXACT_BACKEND} ({EXACT_MODULE}) cannot be "
            f"imported or has no {encoding}"
        )
    return TokenCounter(
        encoding,
        f"{ESTIMATOR_VERSION}:{encoding}",
        False,
        functools.partial(estimate_text, encoding=encoding),
    )


def clear_cache() -> None:
    """Forget chosen backends (after changing the environment)."""
    _counter.cache_clear()


def encoder_name(encoding: str = DEFAULT_ENCODING) -> str:
    """Which backend counts ``encoding`` now: ``bpe-openai:<enc>`` or
    ``mockft-estimate-1:<enc>``."""
    return get_counter(encoding).name


def is_exact(encoding: str = DEFAULT_ENCODING) -> bool:
    return get_counter(encoding).exact


# -- text, messages, examples -------------------------------------------------------------


def count_text(text: str, *, encoding: str = DEFAULT_ENCODING) -> int:
    return get_counter(encoding).count(text)


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
