"""Seeded log probabilities: shaped like a real model's, the same for the same request."""

from __future__ import annotations

import math

from hypothesis import example, given, settings
from hypothesis import strategies as st

from mockft import logprobs, tokens


def test_token_text() -> None:
    assert logprobs.token_text(b" baseball") == " baseball"
    assert logprobs.token_text(b"\xe5\xbe") == "bytes:\\xe5\\xbe"  # part of a character


@settings(max_examples=60, deadline=None)
@given(
    text=st.text(min_size=1, max_size=30),
    top=st.integers(0, 20),
    trained=st.booleans(),
    seed=st.integers(0, 2**31),
    encoding=st.sampled_from(tokens.ENCODINGS),
)
# A sampled token at nearly 0.9999 and 19 alternatives: their probabilities read back from
# the logprobs summed to 1.0000000000000002 before a share was held back from them.
@example(text="hello world", top=20, trained=True, seed=1853, encoding="o200k_base")
def test_the_sampled_token_leads_and_probabilities_stay_below_one(
    text: str, top: int, trained: bool, seed: int, encoding: str
) -> None:
    pieces = tokens.token_pieces(text, encoding=encoding)
    found = logprobs.for_tokens(pieces, encoding=encoding, top=top, trained=trained, seed=(seed,))
    assert [entry.token for entry in found] == pieces
    for entry in found:
        low = math.log(logprobs.TRAINED_PROBABILITY[0] if trained else 0.34)
        assert low <= entry.logprob < 0
        assert len(entry.top) == top
        if top:
            assert entry.top[0] == logprobs.Candidate(entry.token, entry.logprob)
            values = [c.logprob for c in entry.top]
            assert all(a > b for a, b in zip(values, values[1:]))
            assert sum(math.exp(v) for v in values) <= 1
            assert len({c.token for c in entry.top}) == top
            assert all(c.token.decode().strip() for c in entry.top[1:])
    again = logprobs.for_tokens(pieces, encoding=encoding, top=top, trained=trained, seed=(seed,))
    assert again == found
