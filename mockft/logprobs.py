"""Log probabilities for the tokens a model "generated": seeded, so the same request always
gets the same values, and shaped like a real model's.

The sampled token is always the most likely one (temperature aside, mockft's models answer
greedily): its probability is high for a reply the model was trained on and lower for
synthetic text. The alternatives are other tokens of the model's vocabulary, written like
the sampled one (with or without a leading space), each less likely than the one before;
the probabilities of a position never sum past 1. Values are natural logarithms, as the API
sends them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from mockft import synth, tokens

# The probability of the sampled token: a trained reply is near certain.
TRAINED_PROBABILITY: Final = (0.9, 0.9999)
SYNTHETIC_PROBABILITY: Final = (0.35, 0.97)
# Each alternative is this much as likely as the one before it, and takes at most LEFT_SHARE
# of the probability the tokens before it left: strictly less likely, never past 1 in all.
ALTERNATIVE_RATIO: Final = (0.1, 0.7)
LEFT_SHARE: Final = 0.8
# A share of what the sampled token leaves that no alternative takes: the top candidates'
# probabilities, read back from their logprobs (exp), then sum below one whatever the float
# rounding (with a sampled token at 0.9999 and 19 alternatives, they would sum to 1 - 5e-18,
# which rounds to 1, and exp(log(p)) may come back a little above p).
HELD_BACK: Final = 1e-6
MAX_DRAWS_PER_ALTERNATIVE: Final = 64
BYTES_PREFIX: Final = "bytes:"  # how the API writes a token that is not whole UTF-8


@dataclass(frozen=True)
class Candidate:
    token: bytes
    logprob: float


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token: its log probability, and the most likely tokens at its
    position (itself first), as many as were asked for."""

    token: bytes
    logprob: float
    top: tuple[Candidate, ...]


def token_text(token: bytes) -> str:
    """A token as the API writes it: its text, or ``bytes:\\xe5\\xbe`` when its bytes are
    only part of a character."""
    try:
        return token.decode("utf-8")
    except UnicodeDecodeError:
        return BYTES_PREFIX + "".join(f"\\x{byte:02x}" for byte in token)


def for_tokens(
    pieces: Sequence[bytes],
    *,
    encoding: str,
    top: int,
    trained: bool,
    seed: tuple[object, ...],
) -> tuple[TokenLogprob, ...]:
    """The log probabilities of ``pieces`` with ``top`` alternatives each (the sampled token
    counts as one of them); ``seed`` makes them differ between requests and choices."""
    counter = tokens.get_counter(encoding)
    low, high = TRAINED_PROBABILITY if trained else SYNTHETIC_PROBABILITY
    found = []
    for position, piece in enumerate(pieces):
        probability = synth.seeded_uniform(low, high, "logprob", *seed, position)
        candidates = [Candidate(piece, math.log(probability))]
        left = (1.0 - probability) * (1.0 - HELD_BACK)  # what the alternatives may share
        seen = {piece}
        for rank in range(1, top):
            ratio = synth.seeded_uniform(*ALTERNATIVE_RATIO, "ratio", *seed, position, rank)
            probability = min(probability * ratio, left * LEFT_SHARE)
            left -= probability
            alternative = _alternative(counter, piece, seen, (*seed, position, rank))
            candidates.append(Candidate(alternative, math.log(probability)))
            seen.add(alternative)
        found.append(TokenLogprob(piece, candidates[0].logprob, tuple(candidates[:top])))
    return tuple(found)


def _alternative(
    counter: tokens.TokenCounter, sampled: bytes, seen: set[bytes], seed: tuple[object, ...]
) -> bytes:
    """A token of the vocabulary that reads like ``sampled`` and is not in ``seen``."""
    spaced = sampled.startswith(b" ")
    fallback = None
    for draw in range(MAX_DRAWS_PER_ALTERNATIVE):
        candidate = counter.vocabulary(synth.draw_seed("alternative", *seed, draw))
        if candidate in seen or not _whole_text(candidate):
            continue
        if candidate.startswith(b" ") == spaced:
            return candidate
        fallback = fallback or candidate
    if fallback is not None:
        return fallback
    rank = 0
    while (candidate := counter.vocabulary(rank)) in seen:  # a tiny vocabulary: any other
        rank += 1
    return candidate


def _whole_text(token: bytes) -> bool:
    try:
        text = token.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return bool(text.strip())
