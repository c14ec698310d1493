"""Isolation and security: two keys in two organizations see nothing of each other; the
control API is guarded by the same keys; the server binds loopback by default.

"Nothing" means: a foreign object answers exactly as an object that does not exist would
(same status, type, code and param, the message naming the id that was asked for), never
appears in a list, cannot be changed, deleted or used, and cannot be probed through a list
cursor either."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from mockft.config import Settings
from tests.conftest import (
    CHECKED,
    FIXTURES,
    NO_PRELOAD,
    Server,
    in_process,
    make_settings,
    raw_http,
)
from tests.serving import ForkedServeProcess

KEY_A, KEY_B = "sk-a", "sk-b"
TRAIN = (FIXTURES / "train_chat.jsonl").read_bytes()


@dataclass
class World:
    server: Server
    a: httpx.Client
    b: httpx.Client
    # acme's objects
    file: str
    second_file: str
    upload: str
    done_job: str
    running_job: str
    model: str
    checkpoint_model: str
    checkpoint: str
    # globex's own
    b_files: list[str]
    b_job: str


def _client(server: Server, key: str | None) -> httpx.Client:
    return raw_http(server, key, event_hooks=CHECKED, timeout=30)  # every answer spec-checked


def _upload(client: httpx.Client, name: str) -> str:
    response = client.post("/files", files={"file": (name, TRAIN)}, data={"purpose": "fine-tune"})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def _job(client: httpx.Client, training: str) -> str:
    response = client.post(
        "/fine_tuning/jobs", json={"model": "gpt-4o-mini", "training_file": training}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One world for the module; a test that changes acme's objects puts them back."""
    tmp_path = tmp_path_factory.mktemp("isolation")
    settings = make_settings(tmp_path, api_keys=(f"{KEY_A}=acme", f"{KEY_B}=globex"))
    with in_process(settings) as server, _client(server, KEY_A) as a, _client(server, KEY_B) as b:
        b_files = [_upload(b, "b0.jsonl")]
        file = _upload(a, "a.jsonl")  # between globex's files: a cursor would show it
        b_files.append(_upload(b, "b1.jsonl"))
        second_file = _upload(a, "a2.jsonl")
        b_job = _job(b, b_files[0])
        done_job = _job(a, file)
        server.advance(24 * 3600)
        done = a.get(f"/fine_tuning/jobs/{done_job}").json()
        assert done["status"] == "succeeded"
        running_job = _job(a, file)
        for _ in range(500):
            if a.get(f"/fine_tuning/jobs/{running_job}").json()["status"] == "running":
                break
            server.advance(10)
        checkpoints = a.get(f"/fine_tuning/jobs/{done_job}/checkpoints").json()["data"]
        upload = a.post(
            "/uploads",
            json={
                "filename": "u.jsonl",
                "purpose": "fine-tune",
                "bytes": len(TRAIN),
                "mime_type": "x",
            },
        ).json()["id"]
        yield World(
            server=server,
            a=a,
            b=b,
            file=file,
            second_file=second_file,
            upload=upload,
            done_job=done_job,
            running_job=running_job,
            model=done["fine_tuned_model"],
            checkpoint_model=checkpoints[0]["fine_tuned_model_checkpoint"],
            checkpoint=checkpoints[0]["id"],
            b_files=b_files,
            b_job=b_job,
        )


def _same_as_missing(foreign: httpx.Response, missing: httpx.Response, foreign_id: str) -> None:
    """The answer about a foreign id is the answer about an id that does not exist."""
    assert foreign.status_code == missing.status_code, foreign.text
    got, expected = foreign.json()["error"], missing.json()["error"]
    assert {k: got[k] for k in ("type", "code", "param")} == {
        k: expected[k] for k in ("type", "code", "param")
    }
    assert foreign_id in got["message"]


def _missing_like(real: str) -> str:
    """An id of the same shape that does not exist."""
    return real[:-4] + ("zzzz" if not real.endswith("zzzz") else "yyyy")


def test_foreign_files_are_invisible(world: World) -> None:
    b, a = world.b, world.a
    listed = {f["id"] for f in b.get("/files", params={"limit": 10000}).json()["data"]}
    assert listed == set(world.b_files)
    for params in ({"purpose": "fine-tune"}, {"order": "asc"}):
        assert {f["id"] for f in b.get("/files", params=params).json()["data"]} == listed
    missing = _missing_like(world.file)
    for method, suffix in (("GET", ""), ("GET", "/content"), ("DELETE", "")):
        _same_as_missing(
            b.request(method, f"/files/{world.file}{suffix}"),
            b.request(method, f"/files/{missing}{suffix}"),
            world.file,
        )
    # untouched for its owner
    assert a.get(f"/files/{world.file}/content").content == TRAIN


def test_foreign_cursors_are_unknown_cursors(world: World) -> None:
    """A list cursor is looked up among the caller's own objects: a foreign id must answer as
    a bogus one does (an empty page), not as a position in the foreign org's history, which
    would tell whether the id exists and when it was made."""
    b = world.b
    bogus = b.get("/files", params={"after": _missing_like(world.file)}).json()
    assert bogus["data"] == []
    foreign = b.get("/files", params={"after": world.second_file}).json()
    assert foreign["data"] == bogus["data"], "a foreign file id works as a cursor"
    foreign_asc = b.get("/files", params={"after": world.file, "order": "asc"}).json()
    assert foreign_asc["data"] == [], "a foreign file id works as a cursor"
    jobs = b.get("/fine_tuning/jobs", params={"after": world.done_job}).json()
    assert jobs["data"] == [], "a foreign job id works as a cursor"


def test_foreign_uploads_cannot_be_touched(world: World) -> None:
    b, a = world.b, world.a
    upload = a.post(
        "/uploads",
        json={"filename": "v.jsonl", "purpose": "fine-tune", "bytes": len(TRAIN), "mime_type": "x"},
    ).json()["id"]
    missing = _missing_like(upload)
    for suffix, kwargs in (
        ("parts", {"files": {"data": ("blob", TRAIN)}}),
        ("complete", {"json": {"part_ids": []}}),
        ("cancel", {}),
    ):
        _same_as_missing(
            b.post(f"/uploads/{upload}/{suffix}", **kwargs),  # type: ignore[arg-type]
            b.post(f"/uploads/{missing}/{suffix}", **kwargs),  # type: ignore[arg-type]
            upload,
        )
    # still pending and whole for its owner
    part = a.post(f"/uploads/{upload}/parts", files={"data": ("blob", TRAIN)}).json()["id"]
    done = a.post(f"/uploads/{upload}/complete", json={"part_ids": [part]}).json()
    assert done["status"] == "completed" and done["file"]["bytes"] == len(TRAIN)
    assert done["file"]["id"] not in {f["id"] for f in b.get("/files").json()["data"]}


def test_foreign_jobs_events_and_checkpoints_are_invisible(world: World) -> None:
    b, a = world.b, world.a
    assert [j["id"] for j in b.get("/fine_tuning/jobs").json()["data"]] == [world.b_job]
    for job in (world.done_job, world.running_job):
        missing = _missing_like(job)
        for method, suffix in (
            ("GET", ""),
            ("GET", "/events"),
            ("GET", "/checkpoints"),
            ("POST", "/cancel"),
            ("POST", "/pause"),
            ("POST", "/resume"),
        ):
            _same_as_missing(
                b.request(method, f"/fine_tuning/jobs/{job}{suffix}"),
                b.request(method, f"/fine_tuning/jobs/{missing}{suffix}"),
                job,
            )
    # the running job was neither paused nor cancelled by globex's attempts
    assert a.get(f"/fine_tuning/jobs/{world.running_job}").json()["status"] == "running"
    assert a.post(f"/fine_tuning/jobs/{world.running_job}/pause").json()["status"] == "paused"
    _same_as_missing(
        b.post(f"/fine_tuning/jobs/{world.running_job}/resume"),
        b.post(f"/fine_tuning/jobs/{_missing_like(world.running_job)}/resume"),
        world.running_job,
    )
    assert a.get(f"/fine_tuning/jobs/{world.running_job}").json()["status"] == "paused"
    assert a.post(f"/fine_tuning/jobs/{world.running_job}/resume").json()["status"] == "running"
    # the metadata filter does not reach across either
    assert b.get("/fine_tuning/jobs", params={"metadata[x]": "y"}).json()["data"] == []


def test_foreign_models_are_invisible(world: World) -> None:
    b, a = world.b, world.a
    listed = {m["id"] for m in b.get("/models").json()["data"]}
    assert not {m for m in listed if ":acme:" in m}  # globex's own models may be there
    assert world.model not in listed and world.checkpoint_model not in listed
    for model in (world.model, world.checkpoint_model):
        missing = model[:-3] + "zzz"
        for method in ("GET", "DELETE"):
            _same_as_missing(
                b.request(method, f"/models/{model}"),
                b.request(method, f"/models/{missing}"),
                model,
            )
        assert a.get(f"/models/{model}").status_code == 200
    assert world.model in {m["id"] for m in a.get("/models").json()["data"]}


def test_foreign_files_and_models_cannot_be_used_in_a_job(world: World) -> None:
    b = world.b
    own = world.b_files[0]

    def create(**body: Any) -> dict[str, Any]:
        response = b.post("/fine_tuning/jobs", json={"model": "gpt-4o-mini", **body})
        assert response.status_code == 400, response.text
        error: dict[str, Any] = response.json()["error"]
        return error

    foreign = create(training_file=world.file)
    missing = create(training_file=_missing_like(world.file))
    assert (foreign["param"], foreign["code"]) == (missing["param"], missing["code"])
    assert foreign["param"] == "training_file"
    assert create(training_file=own, validation_file=world.file)["param"] == "validation_file"
    tuned = b.post("/fine_tuning/jobs", json={"model": world.model, "training_file": own})
    assert tuned.status_code == 400
    assert tuned.json()["error"]["code"] == "model_not_available"
    assert [j["id"] for j in b.get("/fine_tuning/jobs").json()["data"]] == [world.b_job]


def test_each_org_answers_in_its_own_name(world: World) -> None:
    assert world.a.get("/files").headers["openai-organization"] == "acme"
    assert world.b.get("/files").headers["openai-organization"] == "globex"
    a_org = world.a.get(f"/fine_tuning/jobs/{world.done_job}").json()["organization_id"]
    b_org = world.b.get(f"/fine_tuning/jobs/{world.b_job}").json()["organization_id"]
    assert a_org != b_org
    assert world.model.split(":")[2] == "acme"


def test_unknown_and_missing_keys_are_refused_everywhere(world: World) -> None:
    server = world.server
    with _client(server, "sk-c") as stranger, _client(server, None) as anonymous:
        for client, code in ((stranger, "invalid_api_key"), (anonymous, None)):
            for method, path in (
                ("GET", "/files"),
                ("GET", f"/files/{world.file}"),
                ("GET", f"/files/{world.file}/content"),
                ("GET", f"/fine_tuning/jobs/{world.done_job}"),
                ("GET", f"/models/{world.model}"),
                ("POST", f"/uploads/{world.upload}/cancel"),
                ("DELETE", f"/files/{world.file}"),
            ):
                response = client.request(method, path)
                assert response.status_code == 401, (method, path, response.text)
                assert response.json()["error"]["code"] == code
    assert world.a.get(f"/files/{world.file}").status_code == 200


def test_the_control_api_is_guarded(world: World) -> None:
    root = world.server.root_url
    raw = raw_http(world.server)
    assert raw.get(f"{root}/mockft/health").status_code == 200  # the one public path
    before = world.a.get("/files").json()["data"]
    now = raw.get(f"{root}/mockft/clock", headers={"Authorization": f"Bearer {KEY_A}"})
    for headers in ({}, {"Authorization": "Bearer sk-c"}, {"Authorization": "Basic x"}):
        for method, path, body in (
            ("GET", "/mockft/clock", None),
            ("POST", "/mockft/clock/advance", {"seconds": 100}),
            ("POST", "/mockft/clock", {"now": 2_000_000_000}),
            ("POST", "/mockft/reset", None),
            ("POST", f"/mockft/jobs/{world.running_job}/fail", {"code": "x"}),
            ("POST", f"/mockft/jobs/{world.running_job}/complete", None),
        ):
            response = raw.request(method, f"{root}{path}", json=body, headers=headers)
            assert response.status_code == 401, (path, headers, response.text)
            assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    # nothing happened
    assert world.a.get("/files").json()["data"] == before
    after = raw.get(f"{root}/mockft/clock", headers={"Authorization": f"Bearer {KEY_A}"})
    assert after.json()["now"] == now.json()["now"]
    assert world.a.get(f"/fine_tuning/jobs/{world.running_job}").json()["status"] == "running"


def test_loopback_is_the_default() -> None:
    assert Settings().host == "127.0.0.1"
    assert Settings.from_env({}).host == "127.0.0.1"
    assert Settings.from_env({"MOCKFT_PORT": "9"}).base_url.startswith("http://127.0.0.1:")


def test_serve_listens_on_loopback_only(tmp_path: Path) -> None:
    """`mockft serve` with no --host: the listening socket is 127.0.0.1 and nothing else."""
    with ForkedServeProcess("--memory", env=NO_PRELOAD) as served:
        listening = _listening_addresses(served.port)
        assert listening == {"127.0.0.1"}, listening


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of sockets listening on `port`, from the kernel's own tables."""
    found: set[str] = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, _, hex_port = fields[1].partition(":")
            if int(hex_port, 16) != port or fields[3] != "0A":  # 0A: LISTEN
                continue
            assert len(address) == width
            if width == 8:
                found.add(".".join(str(b) for b in reversed(bytes.fromhex(address))))
            else:
                found.add(f"ipv6:{address}")
    if not Path("/proc/net/tcp").exists():  # not Linux: probe a non-loopback address instead
        import socket

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # no packet is sent
            outside = probe.getsockname()[0]
        try:
            socket.create_connection((outside, port), timeout=2).close()
            found.add(outside)
        except OSError:
            found.add("127.0.0.1")
    return found
