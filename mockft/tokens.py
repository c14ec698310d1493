"""Token counting for training data: exact where an encoding is on disk, estimated otherwise.

Nothing here touches the network. Counts are exact only when ``tiktoken`` is importable *and*
the BPE file of the encoding already sits in tiktoken's cache directory (``TIKTOKEN_CACHE_DIR``,
else ``DATA_GYM_CACHE_DIR``, else ``<tmp>/data-gym-cache``) with its published SHA-256. That file
is read and verified here and handed to ``tiktoken.Encoding`` directly, so tiktoken never looks
anything up itself. Otherwise (the normal case: the encodings cannot be downloaded offline) a
deterministic estimator is used. ``MOCKFT_TOKENIZER`` picks the backend: ``auto`` (default),
``estimate`` (always the estimator, for results identical on every machine) or ``tiktoken``
(exact or an error).

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
3. Sum, scale, round half up. The parameters were fitted per encoding against real tiktoken
   ``cl100k_base`` and ``o200k_base`` counts on one half of ~2,900 documents (Python reference
   prose, OpenAPI descriptions, git release notes, licences, JSON, Python source, mixed
   Chinese/English) plus four of the fixture files; the table is for the other half.

Measured error against real tiktoken (estimate - exact; "mean" and "worst" are per document,
documents of 20+ tokens; cl100k / o200k):

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
gpt-4o) the estimator gives 125 and 126 (-3.1 % / +1.6 %).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib
import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
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

TOKENIZER_ENV: Final = "MOCKFT_TOKENIZER"
MODE_AUTO: Final = "auto"
MODE_ESTIMATE: Final = "estimate"
MODE_TIKTOKEN: Final = "tiktoken"
MODES: Final = (MODE_AUTO, MODE_ESTIMATE, MODE_TIKTOKEN)
ESTIMATOR_VERSION: Final = "mockft-estimate-1"

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


# -- exact counts through tiktoken, from a verified local file only ------------------------


@dataclass(frozen=True)
class _BpeFile:
    url: str  # tiktoken's cache key is the SHA-1 of this string; it is never fetched
    sha256: str
    pat_str: str
    special_tokens: Mapping[str, int]


_BPE_FILES: Final[Mapping[str, _BpeFile]] = {
    CL100K_BASE: _BpeFile(
        url="https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        sha256="223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        pat_str=(
            r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"""
            r"""| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
        ),
        special_tokens={
            "<|endoftext|>": 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            "<|endofprompt|>": 100276,
        },
    ),
    O200K_BASE: _BpeFile(
        url="https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        sha256="446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        pat_str="|".join(
            [
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"""
                r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"""
                r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""\p{N}{1,3}""",
                r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
                r"""\s*[\r\n]+""",
                r"""\s+(?!\S)""",
                r"""\s+""",
            ]
        ),
        special_tokens={"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
    ),
}


def tiktoken_cache_path(encoding: str) -> Path | None:
    """Where tiktoken would cache ``encoding``'s BPE file (None: unknown or caching off)."""
    spec = _BPE_FILES.get(encoding)
    if spec is None:
        return None
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        cache_dir = os.environ["TIKTOKEN_CACHE_DIR"]
    elif "DATA_GYM_CACHE_DIR" in os.environ:
        cache_dir = os.environ["DATA_GYM_CACHE_DIR"]
    else:
        cache_dir = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    if not cache_dir:
        return None
    return Path(cache_dir) / hashlib.sha1(spec.url.encode()).hexdigest()


def _load_tiktoken(encoding: str) -> Callable[[str], int] | None:
    spec = _BPE_FILES.get(encoding)
    path = tiktoken_cache_path(encoding)
    if spec is None or path is None or not path.is_file():
        return None
    try:
        tiktoken = importlib.import_module("tiktoken")
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != spec.sha256:
            return None
        ranks = {
            base64.b64decode(token): int(rank)
            for token, rank in (line.split() for line in data.splitlines() if line)
        }
        bpe: Any = tiktoken.Encoding(
            name=encoding,
            pat_str=spec.pat_str,
            mergeable_ranks=ranks,
            special_tokens=dict(spec.special_tokens),
        )
    except Exception:  # no tiktoken, an unreadable file, an incompatible tiktoken version
        return None

    def count(text: str) -> int:
        return len(bpe.encode(text, disallowed_special=()))

    return count


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
    name: str  # "tiktoken:cl100k_base" or "mockft-estimate-1:cl100k_base"
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
    exact = None if mode == MODE_ESTIMATE else _load_tiktoken(encoding)
    if exact is not None:
        return TokenCounter(encoding, f"tiktoken:{encoding}", True, exact)
    if mode == MODE_TIKTOKEN:
        raise RuntimeError(
            f"{TOKENIZER_ENV}=tiktoken but no verified {encoding} file is in tiktoken's cache "
            f"({tiktoken_cache_path(encoding)}) or tiktoken is not installed"
        )
    return TokenCounter(
        encoding,
        f"{ESTIMATOR_VERSION}:{encoding}",
        False,
        functools.partial(estimate_text, encoding=encoding),
    )


def clear_cache() -> None:
    """Forget chosen backends (after changing the environment or tiktoken's cache)."""
    _counter.cache_clear()


def encoder_name(encoding: str = DEFAULT_ENCODING) -> str:
    """Which backend counts ``encoding`` now: ``tiktoken:<enc>`` or ``mockft-estimate-1:<enc>``."""
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
    message of ``preferred_output`` and ``non_preferred_output``.
    """
    count = get_counter(encoding).count
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
            if key == "content" and isinstance(value, list):
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
