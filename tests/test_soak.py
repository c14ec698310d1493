"""Soak and abuse: many clients at once, with a large upload, a job on a large training
file, a poller of a long job and a client sending garbage, against `mockft serve`. No
request gets a 5xx (every client fault is a 4xx), nothing acknowledged is lost (read back
byte for byte after the load and again after a kill -9), and the server's memory stays
bounded. Small and short by default; `MOCKFT_STRESS=1` runs the full size (50 clients,
100 MB upload, job on 60 MB, 60 s). The latency figure is in benchmarks/soak.py."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from benchmarks.soak import ATTACKS, MIXED_CALLS, SoakConfig, run_soak

STRESS = os.environ.get("MOCKFT_STRESS") == "1"
# Above what the server holds at rest (~60 MB): the tokenizer's vocabulary, loaded by the
# first validation (~110 MB), and no body, upload or job holding much more than a JSON
# body's limit (50 MB) at once.
RSS_GROWTH_LIMIT_MB = 250
# The mixed clients' time, and then until each kind of mixed call and each garbage attack was
# made MIN_CALLS times (~2 s here); the load lasts until the large upload and job are done
# anyway. The latency figure and the long load are the benchmark's (benchmarks/soak.py).
SUITE_SECONDS = 1.0
MIN_CALLS = 5


def test_mixed_load_with_abuse_loses_nothing_and_never_fails(tmp_path: Path) -> None:
    suite = replace(
        SoakConfig.quick(),
        seconds=SUITE_SECONDS,
        probe=False,  # the latency figure is the benchmark's
        preload=False,  # like every server the suite starts (tests/conftest.py's NO_PRELOAD)
        min_calls=MIN_CALLS,
    )
    config = SoakConfig(min_calls=MIN_CALLS) if STRESS else suite
    result = run_soak(config, tmp_path / "data")

    assert result.server_errors == []
    assert result.client_failures == []
    assert result.lost == []
    assert result.requests["uploader"] == 1 and result.requests["job"] == 2
    assert len(result.jobs) == 2  # the long job and the job on the large file
    assert len(result.acknowledged) > config.clients  # the mixed clients made files
    assert result.requests["garbage"] > 0 and result.requests["poller"] > 0
    assert set(result.calls) == {*MIXED_CALLS, *ATTACKS}
    assert min(result.calls.values()) >= MIN_CALLS, result.calls
    assert max(result.rss_mb) - result.rss_mb[0] < RSS_GROWTH_LIMIT_MB, result.summary()
