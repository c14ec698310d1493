"""``text_similarity``'s metrics (documented approximations; the real service uses libraries).

Every metric but ``fuzzy_match`` works on words: the text lower-cased, split into runs of
word characters (``\\w+``). Results lie in [0, 1].

- ``fuzzy_match``: rapidfuzz's ``fuzz.ratio`` / 100 (the graders guide says the real service
  uses rapidfuzz): 2·LCS / (len(input) + len(reference)) over the raw characters,
  case-sensitive; 1.0 for two empty strings.
- ``bleu``: sentence BLEU-4, uniform weights, clipped n-gram precision; orders 2-4 use
  Lin & Och add-one smoothing ((m + 1) / (c + 1)); brevity penalty exp(1 - r/c) when the input
  is shorter than the reference.
- ``gleu``: Google-BLEU (Wu et al. 2016): all 1- to 4-grams pooled, min(precision, recall).
- ``meteor``: exact unigram matches only (no stems or synonyms), aligned greedily left to
  right; Fmean = 10PR / (R + 9P), fragmentation penalty 0.5 · (chunks / matches)³.
- ``rouge_1`` … ``rouge_5``: n-gram overlap F1; ``rouge_l``: longest-common-subsequence F1.
- ``cosine``: cosine of bag-of-words term-frequency vectors. The real service embeds both texts
  with ``text-embedding-3-large``; embeddings are not available offline, so this is lexical
  similarity only (synonyms score 0).

Every metric is linear in the text length except the LCS (``fuzzy_match``, ``rouge_l``),
which is rapidfuzz's bit-parallel ``LCSseq``: the same lengths as the textbook table, 10 to 50
times faster than the pure-Python bit-parallel version it replaced.
"""

from __future__ import annotations

import math
import re
from collections import Counter, deque
from collections.abc import Callable, Hashable, Sequence
from typing import Final

from rapidfuzz.distance import LCSseq

EVALUATION_METRICS: Final = (
    "cosine", "fuzzy_match", "bleu", "gleu", "meteor",
    "rouge_1", "rouge_2", "rouge_3", "rouge_4", "rouge_5", "rouge_l",
)  # fmt: skip
BLEU_MAX_ORDER: Final = 4
GLEU_MAX_ORDER: Final = 4
METEOR_RECALL_WEIGHT: Final = 9.0  # Fmean = 10PR / (R + 9P)
METEOR_PENALTY_WEIGHT: Final = 0.5
METEOR_PENALTY_EXPONENT: Final = 3
ROUGE_ORDERS: Final = {"rouge_1": 1, "rouge_2": 2, "rouge_3": 3, "rouge_4": 4, "rouge_5": 5}
WORD: Final = re.compile(r"\w+")


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def _ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def _overlap(a: Counter[tuple[str, ...]], b: Counter[tuple[str, ...]]) -> int:
    return sum((a & b).values())


def _f1(matches: int, produced: int, expected: int) -> float:
    if matches == 0 or produced == 0 or expected == 0:
        return 0.0
    precision, recall = matches / produced, matches / expected
    return 2 * precision * recall / (precision + recall)


def lcs_length(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """Length of the longest common subsequence of two strings or two word lists."""
    return int(LCSseq.similarity(a, b))


def fuzzy_match(candidate: str, reference: str) -> float:
    """rapidfuzz's ``fuzz.ratio`` / 100: the normalised Indel similarity 2·LCS / (m + n) over
    characters, rounded once (``fuzz.ratio`` computes 1 - distance / (m + n) and scales by
    100, which differs in the last bit for two pairs in five); two empty strings are
    identical."""
    total = len(candidate) + len(reference)
    return 1.0 if total == 0 else 2 * lcs_length(candidate, reference) / total


def bleu(candidate: Sequence[str], reference: Sequence[str]) -> float:
    if not candidate or not reference:
        return 0.0
    log_sum = 0.0
    for n in range(1, BLEU_MAX_ORDER + 1):
        produced = _ngrams(candidate, n)
        matches = _overlap(produced, _ngrams(reference, n))
        total = sum(produced.values())
        if n == 1:
            if matches == 0:
                return 0.0
            precision = matches / total
        else:
            precision = (matches + 1) / (total + 1)
        log_sum += math.log(precision) / BLEU_MAX_ORDER
    brevity = (
        1.0 if len(candidate) >= len(reference) else math.exp(1 - len(reference) / len(candidate))
    )
    return brevity * math.exp(log_sum)


def gleu(candidate: Sequence[str], reference: Sequence[str]) -> float:
    matches = produced = expected = 0
    for n in range(1, GLEU_MAX_ORDER + 1):
        mine, theirs = _ngrams(candidate, n), _ngrams(reference, n)
        matches += _overlap(mine, theirs)
        produced += sum(mine.values())
        expected += sum(theirs.values())
    if produced == 0 or expected == 0:
        return 0.0
    return min(matches / produced, matches / expected)


def meteor(candidate: Sequence[str], reference: Sequence[str]) -> float:
    unused: dict[str, deque[int]] = {}
    for position, word in enumerate(reference):
        unused.setdefault(word, deque()).append(position)
    alignment: list[int] = []  # reference position of each matched candidate word, in order
    for word in candidate:
        free = unused.get(word)
        if free:
            alignment.append(free.popleft())  # the earliest unused occurrence
    matches = len(alignment)
    if matches == 0:
        return 0.0
    precision, recall = matches / len(candidate), matches / len(reference)
    fmean = (
        (1 + METEOR_RECALL_WEIGHT)
        * precision
        * recall
        / (recall + METEOR_RECALL_WEIGHT * precision)
    )
    chunks = 1 + sum(1 for a, b in zip(alignment, alignment[1:]) if b != a + 1)
    penalty = METEOR_PENALTY_WEIGHT * (chunks / matches) ** METEOR_PENALTY_EXPONENT
    return fmean * (1 - penalty)


def rouge_n(candidate: Sequence[str], reference: Sequence[str], n: int) -> float:
    mine, theirs = _ngrams(candidate, n), _ngrams(reference, n)
    return _f1(_overlap(mine, theirs), sum(mine.values()), sum(theirs.values()))


def rouge_l(candidate: Sequence[str], reference: Sequence[str]) -> float:
    return _f1(lcs_length(candidate, reference), len(candidate), len(reference))


def cosine(candidate: Sequence[str], reference: Sequence[str]) -> float:
    mine, theirs = Counter(candidate), Counter(reference)
    dot = sum(count * theirs[word] for word, count in mine.items())
    if dot == 0:
        return 0.0
    squares = sum(c * c for c in mine.values()) * sum(c * c for c in theirs.values())
    return dot / math.sqrt(squares)  # integers under the root: identical texts give exactly 1


def similarity(metric: str, candidate: str, reference: str) -> float:
    """``evaluation_metric`` of ``candidate`` (the grader's input) against ``reference``."""
    if metric == "fuzzy_match":
        return fuzzy_match(candidate, reference)
    mine, theirs = words(candidate), words(reference)
    if metric in ROUGE_ORDERS:
        return rouge_n(mine, theirs, ROUGE_ORDERS[metric])
    scorers: dict[str, Callable[[Sequence[str], Sequence[str]], float]] = {
        "bleu": bleu,
        "gleu": gleu,
        "meteor": meteor,
        "rouge_l": rouge_l,
        "cosine": cosine,
    }
    if metric not in scorers:
        raise ValueError(f"unknown evaluation metric {metric!r}")
    return min(1.0, max(0.0, scorers[metric](mine, theirs)))
