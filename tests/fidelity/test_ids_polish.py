"""Ids: the polish branch's rows of docs/fidelity.md ("Ids"): every kind of id mockft makes
has the length of the newest real id of that kind (file ids changed from 24 characters to 22
in late 2024; the others did not)."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.conftest import Server
from tests.fidelity.conftest import (
    capture,
    create_job,
    finish,
    response_of,
    upload_id,
)

BASE62 = re.compile(r"[A-Za-z0-9]+")
HEX = re.compile(r"[0-9a-f]+")


def tail(identifier: str, prefix: str) -> str:
    assert identifier.startswith(prefix), (identifier, prefix)
    return identifier[len(prefix) :]


def newest_real_ids() -> dict[str, str]:
    """The newest captured id of each kind (its capture's date in the comment)."""
    files = capture("files/printed_files_2025.json")
    newest_job = files["fine_tune_upload_2025_08"]["job"]
    chat = response_of("gpt-3_5-turbo_valid_tool_call_chat")
    pinolo = capture("jobs/pinolo_mutate_llm.json")
    instruct = response_of("gpt-3_5-turbo-instruct_completions_once_upon_a_time")
    return {
        "file-": files["fine_tune_upload_2025_08"]["body"]["id"],  # 2025-08-31
        "ftjob-": newest_job["id"],  # 2025-08-31
        "org-": newest_job["organization_id"],  # 2025-08-31
        "ftevent-": files["events_2025_04"]["event_id"],  # 2025-04-28
        "ftckpt_": pinolo["mysql_job"]["checkpoints"]["data"][0]["id"],  # 2024-08-09
        "upload_": capture("simple-openai/uploads_create.json")["id"],  # 2024-07-20
        "part_": capture("simple-openai/uploads_add_part.json")["id"],  # 2024-07-20
        "chatcmpl-": chat["body"]["id"],  # 2024-03-26
        "call_": chat["body"]["choices"][0]["message"]["tool_calls"][0]["id"],  # 2024-03-26
        "cmpl-": instruct["body"]["id"],  # 2024-03-31
        "req_": response_of("files_fetch_image_upload")["headers"]["X-Request-Id"],  # 2025-02-14
    }


def our_ids(server: Server, http: httpx.Client) -> dict[str, str]:
    """One id of each kind, as mockft makes them in a workflow."""
    uploaded = http.post("/files", files={"file": ("t.jsonl", b"")}, data={"purpose": "batch"})
    job = create_job(http)
    done = finish(server, http, job["id"])
    checkpoint = http.get(f"/fine_tuning/jobs/{job['id']}/checkpoints").json()["data"][0]
    event = http.get(f"/fine_tuning/jobs/{job['id']}/events").json()["data"][0]
    started = http.post(
        "/uploads",
        json={"purpose": "assistants", "filename": "a.txt", "bytes": 2, "mime_type": "text/plain"},
    ).json()
    part = http.post(f"/uploads/{started['id']}/parts", files={"data": ("blob", b"hi")}).json()
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    chat = http.post(
        "/chat/completions",
        json={
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [tool],
            "tool_choice": {"type": "function", "function": {"name": "f"}},
        },
    ).json()
    completion = http.post(
        "/completions", json={"model": "gpt-3.5-turbo-instruct", "prompt": "Once upon a time"}
    ).json()
    return {
        "file-": upload_id(http),
        "ftjob-": job["id"],
        "org-": job["organization_id"],
        "ftevent-": event["id"],
        "ftckpt_": checkpoint["id"],
        "upload_": started["id"],
        "part_": part["id"],
        "chatcmpl-": chat["id"],
        "call_": chat["choices"][0]["message"]["tool_calls"][0]["id"],
        "cmpl-": completion["id"],
        "req_": uploaded.headers["x-request-id"],
        # a job's result file is a file like any other
        "file- (results)": done["result_files"][0],
    }


def test_every_id_kind_has_the_length_of_its_newest_capture(
    server: Server, http: httpx.Client
) -> None:
    real = newest_real_ids()
    ours: dict[str, Any] = our_ids(server, http)
    real["file- (results)"] = real["file-"]
    lengths = {
        kind: (len(tail(ours[kind], kind.split()[0])), len(tail(real[kind], kind.split()[0])))
        for kind in ours
    }
    assert {kind: mine for kind, (mine, _) in lengths.items()} == {
        kind: theirs for kind, (_, theirs) in lengths.items()
    }
    assert lengths["file-"] == (22, 22)  # 24 until 2024-08 (design.md's figure)
    for kind, identifier in ours.items():
        alphabet = HEX if kind == "req_" else BASE62
        assert alphabet.fullmatch(tail(identifier, kind.split()[0])), identifier
