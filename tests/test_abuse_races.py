"""Races between requests on one server: a training file deleted while its job validates
it, and the same job or Upload acted on by several clients at once. The first is made
deterministic by deleting the file between the validator's look at it and its reading."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from mockft.joblog import MSG_CANCELLED
from mockft.store import Blobs
from tests.conftest import API_KEY, Server, raw_http
from tests.training import SNAPSHOT, checked_sdk, finish, upload


class DeletedAfterTheLook:
    """The server's blobs, but a key is deleted just after `size` said it is there: a DELETE
    of the file landing between the validator's check and its reading."""

    def __init__(self, blobs: Blobs, key: str) -> None:
        self._blobs = blobs
        self._key = key

    def size(self, key: str) -> int | None:
        size = self._blobs.size(key)
        if key == self._key:
            self._blobs.delete(key)
        return size

    def read(self, key: str, chunk_size: int = 1 << 16) -> Iterator[bytes]:
        return self._blobs.read(key, chunk_size)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._blobs, name)


def test_a_file_deleted_while_its_job_reads_it_fails_the_job(server: Server) -> None:
    with checked_sdk(server) as sdk:
        file_id = upload(sdk)
        server.service.jobs.blobs = DeletedAfterTheLook(server.service.blobs, file_id)  # type: ignore[assignment]
        job = sdk.fine_tuning.jobs.create(model=SNAPSHOT, training_file=file_id)
        done = finish(server, sdk, job.id)  # a 500 here before: FileNotFoundError
    assert done.status == "failed"
    assert done.error is not None
    assert done.error.param == "training_file"
    assert done.error.message == (
        f"The job failed because the file {file_id} is no longer available."
    )


@pytest.mark.live
def test_one_job_cancelled_paused_and_resumed_at_once(server: Server) -> None:
    with checked_sdk(server) as sdk, raw_http(server, API_KEY) as http:
        job = sdk.fine_tuning.jobs.create(model=SNAPSHOT, training_file=upload(sdk)).id
        actions = ["cancel", "cancel", "pause", "resume", "cancel", "pause"]
        with ThreadPoolExecutor(len(actions)) as pool:
            answers = list(
                pool.map(lambda a: http.post(f"/fine_tuning/jobs/{job}/{a}").status_code, actions)
            )
        assert all(code < 500 for code in answers), answers
        assert answers.count(200) >= 1
        final = finish(server, sdk, job)
        assert final.status == "cancelled"
        events = [e.message for e in sdk.fine_tuning.jobs.list_events(job, limit=100)]
        assert events.count(MSG_CANCELLED) == 1, events
