"""The control plane and organizations. With no keys configured the control API stays
open; with keys configured, only control keys reach every organization and move the shared
clock, and an ordinary key may reset, inspect and inject chaos for its own organization
only. One backend serves the HTTP API, the pytest handle and the CLI. Chaos rules are
matched in linear time."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mockft.config import Settings, parse_key
from mockft.pytest_plugin import MockFT
from mockft.service.chaos import Chaos, glob_to_re2
from tests.conftest import FIXTURES, Server, in_process, make_settings, raw_http
from tests.serving import run_cli

TRAIN = (FIXTURES / "train_chat.jsonl").read_bytes()
ALICE, BOB, ROOT = "sk-alice", "sk-bob", "sk-control"


@pytest.fixture
def orgs(tmp_path: Path) -> Iterator[Server]:
    settings = make_settings(
        tmp_path, api_keys=(f"{ALICE}=team-a", f"{BOB}=team-b"), control_keys=(ROOT,)
    )
    with in_process(settings) as server:
        yield server


def client(server: Server, key: str) -> httpx.Client:
    return raw_http(server, key, base_url=server.root_url)


def make_job(http: httpx.Client) -> tuple[str, str]:
    file = http.post(
        "/v1/files", files={"file": ("t.jsonl", TRAIN)}, data={"purpose": "fine-tune"}
    ).json()
    job = http.post(
        "/v1/fine_tuning/jobs", json={"model": "gpt-4o-mini", "training_file": file["id"]}
    ).json()
    return file["id"], job["id"]


def test_an_ordinary_key_cannot_move_the_shared_clock(orgs: Server) -> None:
    with client(orgs, ALICE) as alice, client(orgs, ROOT) as root:
        before = alice.get("/mockft/clock").json()["now"]
        for path, body in (
            ("/mockft/clock/advance", {"seconds": 60}),
            ("/mockft/clock", {"now": before + 60}),
        ):
            refused = alice.post(path, json=body)
            assert refused.status_code == 403, refused.text
            assert refused.json()["error"]["code"] == "control_key_required"
        assert alice.get("/mockft/clock").json()["now"] == before
        assert root.post("/mockft/clock/advance", json={"seconds": 60}).json()["now"] == before + 60


def test_a_control_key_is_not_an_api_key(orgs: Server) -> None:
    with client(orgs, ROOT) as root:
        assert root.get("/v1/models").status_code == 401


def test_reset_with_an_ordinary_key_resets_only_its_organization(orgs: Server) -> None:
    with client(orgs, ALICE) as alice, client(orgs, BOB) as bob:
        alice_file, _ = make_job(alice)
        bob_file, bob_job = make_job(bob)
        bob.post("/mockft/chaos", json={"path": "/v1/models", "status": 503})
        alice.post("/mockft/chaos", json={"path": "/v1/models", "status": 502})

        assert alice.post("/mockft/reset").status_code == 200

        assert alice.get("/v1/files").json()["data"] == []
        assert alice.get(f"/v1/files/{alice_file}").status_code == 404
        assert [f["id"] for f in bob.get("/v1/files").json()["data"]] == [bob_file]
        assert bob.get(f"/v1/files/{bob_file}/content").content == TRAIN
        assert bob.get(f"/v1/fine_tuning/jobs/{bob_job}").status_code == 200
        assert [r["status"] for r in bob.get("/mockft/chaos").json()["data"]] == [503]
        assert alice.get("/mockft/chaos").json()["data"] == []
        assert bob.get("/v1/models").status_code == 503  # bob's rule still fires for bob
        assert alice.get("/v1/models").status_code == 200  # alice's is gone


def test_a_control_key_resets_everything(orgs: Server) -> None:
    with client(orgs, ALICE) as alice, client(orgs, BOB) as bob, client(orgs, ROOT) as root:
        make_job(alice)
        make_job(bob)
        assert root.post("/mockft/reset").status_code == 200
        assert alice.get("/v1/files").json()["data"] == bob.get("/v1/files").json()["data"] == []
    assert orgs.service.blobs.keys() == set()  # at once for every reader; the names go
    root_dir = orgs.settings.data_dir / "blobs"  # into .partial/ on the disk threads
    deadline = time.monotonic() + 10
    while {p.name for p in root_dir.iterdir()} != {".partial"}:
        assert time.monotonic() < deadline, sorted(p.name for p in root_dir.iterdir())
        time.sleep(0.01)


def test_an_ordinary_key_cannot_touch_another_organizations_jobs(orgs: Server) -> None:
    with client(orgs, ALICE) as alice, client(orgs, BOB) as bob, client(orgs, ROOT) as root:
        _, bob_job = make_job(bob)
        for action in ("fail", "complete", "hold", "release"):
            refused = alice.post(f"/mockft/jobs/{bob_job}/{action}", json={})
            assert refused.status_code == 404, (action, refused.text)
            assert refused.json()["error"]["code"] == "fine_tune_not_found"
        assert bob.get(f"/v1/fine_tuning/jobs/{bob_job}").json()["status"] == "validating_files"
        assert bob.post(f"/mockft/jobs/{bob_job}/hold").status_code == 200  # its own: yes
        assert root.post(f"/mockft/jobs/{bob_job}/release").status_code == 200  # control: yes


def test_chaos_rules_of_an_ordinary_key_hit_only_its_organization(orgs: Server) -> None:
    with client(orgs, ALICE) as alice, client(orgs, BOB) as bob, client(orgs, ROOT) as root:
        rule = alice.post("/mockft/chaos", json={"status": 500}).json()
        assert rule["organization"] is not None
        assert bob.get("/v1/models").status_code == 200
        assert alice.get("/v1/models").status_code == 500
        assert bob.delete(f"/mockft/chaos/{rule['id']}").status_code == 404  # not bob's
        assert bob.delete("/mockft/chaos").json()["deleted"] == 0
        assert [r["id"] for r in root.get("/mockft/chaos").json()["data"]] == [rule["id"]]
        root.post("/mockft/chaos", json={"status": 503, "path": "/v1/files"})
        assert bob.get("/v1/files").status_code == 503  # a control key's rule hits everyone


def test_the_request_log_of_an_ordinary_key_is_its_own(orgs: Server) -> None:
    with client(orgs, ALICE) as alice, client(orgs, BOB) as bob, client(orgs, ROOT) as root:
        alice.get("/v1/models")
        bob.get("/v1/files")
        bob.get("/v1/files/file-nope")
        assert [e["path"] for e in alice.get("/mockft/requests").json()["data"]] == ["/v1/models"]
        assert [e["path"] for e in bob.get("/mockft/requests").json()["data"]] == [
            "/v1/files",
            "/v1/files/file-nope",
        ]
        assert len(root.get("/mockft/requests").json()["data"]) == 3
        assert bob.delete("/mockft/requests").json()["deleted"] == 2
        assert len(root.get("/mockft/requests").json()["data"]) == 1


def test_with_no_keys_any_key_drives_everything(tmp_path: Path) -> None:
    with in_process(make_settings(tmp_path)) as server, client(server, "anything") as http:
        assert http.post("/mockft/clock/advance", json={"seconds": 5}).status_code == 200
        make_job(http)
        assert http.post("/mockft/reset").status_code == 200
        assert http.get("/v1/files").json()["data"] == []


def test_one_organizations_keys_keep_full_control(tmp_path: Path) -> None:
    """Every configured key in one organization: each sees everything there is."""
    settings = make_settings(tmp_path, api_keys=("sk-one", "sk-two"))
    with in_process(settings) as server, client(server, "sk-two") as http:
        assert http.post("/mockft/clock/advance", json={"seconds": 5}).status_code == 200


def test_keys_are_settings_that_must_not_overlap() -> None:
    with pytest.raises(ValueError, match="control key"):
        Settings(api_keys=("sk-a=team",), control_keys=("sk-a",))
    for malformed in ("=team", " =team", "sk-a=", "sk-a= ", "sk-a=team/", "sk-a=/proj_1"):
        with pytest.raises(ValueError, match="is not KEY, KEY=org-name or KEY=org-name/PROJECT"):
            Settings(api_keys=(malformed,))
    assert parse_key("sk-a") == ("sk-a", None, None)
    assert parse_key("sk-a=team") == ("sk-a", "team", None)
    assert parse_key("sk-a=my/team/proj_1") == ("sk-a", "my/team", "proj_1")
    assert Settings(control_keys="a, b,").control_keys == ("a", "b")


def test_reset_clears_rules_and_the_log_as_the_docs_say(mockft: MockFT) -> None:
    """POST /mockft/reset: a fresh server, so no chaos rules and an empty request log."""
    mockft.chaos(status=503, path="/v1/files")
    http = mockft.http_client()
    http.get("/v1/models")
    assert http.post("/mockft/reset").status_code == 200
    assert mockft.chaos_rules.rules() == [] and mockft.requests == []
    docs = (Path(__file__).resolve().parent.parent / "docs" / "control-api.md").read_text()
    assert "chaos rules and the request log stay" not in docs


def test_the_cli_resets_through_the_same_backend(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    with in_process(settings) as server, client(server, "k") as http:
        make_job(http)
    done = run_cli("reset", "--data-dir", str(settings.data_dir))
    assert done.returncode == 0, done.stderr
    with in_process(settings) as server, client(server, "k") as http:
        assert http.get("/v1/files").json()["data"] == []
        assert http.get("/v1/fine_tuning/jobs").json()["data"] == []


# --- linear-time matching ----------------------------------------------------------------

CATASTROPHIC = r"^(a+)+$"


def test_a_catastrophic_regex_matches_in_linear_time() -> None:
    box = Chaos()
    box.add_from({"path_regex": CATASTROPHIC, "status": 500})
    started = time.perf_counter()
    for n in range(20, 4000, 200):
        assert box.pick("GET", "/" + "a" * n + "!") is None
    # Python's re needs seconds at n = 32 and doubles with each character: it would not
    # finish n = 60 this year. RE2 answers all of these at once; the bound is only there so
    # that a backtracking matcher fails the test instead of hanging it.
    assert time.perf_counter() - started < 30


def test_a_slow_path_never_stalls_other_requests(mockft: MockFT) -> None:
    mockft.chaos(path_regex=r"(x+x+)+y", status=500)
    http = mockft.http_client()
    times: list[float] = []

    def hostile() -> None:
        for _ in range(20):
            http.get("/v1/" + "x" * 5000)

    worker = threading.Thread(target=hostile)
    worker.start()
    for _ in range(20):
        started = time.perf_counter()
        assert http.get("/v1/models").status_code == 200
        times.append(time.perf_counter() - started)
    worker.join()
    assert max(times) < 10  # a backtracking matcher would hold the loop for good


@pytest.mark.parametrize(
    ("glob", "matches", "misses"),
    [
        ("/v1/*", ["/v1/models", "/v1/a/b"], ["/v2/x", "/mockft"]),
        ("/v1/files*", ["/v1/files", "/v1/files/file-1/content"], ["/v1/file"]),
        ("/v1/fine_tuning/jobs/*/events", ["/v1/fine_tuning/jobs/ftjob-1/events"], ["/v1/x"]),
        ("/v1/model?", ["/v1/models"], ["/v1/model", "/v1/modelss"]),
        ("/v1/[mf]*", ["/v1/models", "/v1/files"], ["/v1/uploads"]),
        ("/v1/[!mf]*", ["/v1/uploads"], ["/v1/models"]),
        ("/v1/a.b+c(d)", ["/v1/a.b+c(d)"], ["/v1/aXb+c(d)"]),
        ("/v1/[", ["/v1/["], ["/v1/x"]),
    ],
)
def test_globs_match_as_fnmatch_did(glob: str, matches: list[str], misses: list[str]) -> None:
    box = Chaos()
    box.add_from({"path": glob, "status": 500})
    assert all(box.pick("GET", path) is not None for path in matches), glob_to_re2(glob)
    assert all(box.pick("GET", path) is None for path in misses), glob_to_re2(glob)


@pytest.mark.parametrize(
    ("rule", "param"),
    [
        ({"path_regex": "(a)\\1", "status": 500}, "path_regex"),  # backreferences: not RE2
        ({"path_regex": "a{1000}{1000}", "status": 500}, "path_regex"),  # too big to compile
        ({"path_regex": "x" * 5000, "status": 500}, "path_regex"),
        ({"times": 10**400, "status": 500}, "times"),
        ({"latency_ms": 1e308}, "latency_ms"),
        ({"status": 500, "retry_after": 1e308}, "retry_after"),
        ({"status": 500, "retry_after_ms": 10**30}, "retry_after_ms"),
        ({"status": 500, "seed": -1}, "seed"),
        ({"status": 500, "seed": 10**30}, "seed"),
        ({"timeout": True, "hold_seconds": 1e308}, "hold_seconds"),
        ({"status": 500, "message": "m" * 100_000}, "message"),
    ],
)
def test_chaos_numbers_and_patterns_are_bounded(
    mockft: MockFT, rule: dict[str, Any], param: str
) -> None:
    refused = mockft.http_client().post("/mockft/chaos", json=rule)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["param"] == param
    assert len(refused.text) < 2_500
    assert mockft.chaos_rules.rules() == []


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"at_step": 10**400}, "at_step"),
        ({"at_step": -1}, "at_step"),
        ({"at_step": 1.5}, "at_step"),
        ({"in_state": "x" * 100_000}, "in_state"),
        ({"message": "m" * 100_000}, "message"),
        ({"code": 5}, "code"),
    ],
)
def test_job_failure_inputs_are_bounded(mockft: MockFT, body: dict[str, Any], param: str) -> None:
    http = mockft.http_client()
    _, job_id = make_job(http)
    refused = http.post(f"/mockft/jobs/{job_id}/fail", json=body)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["param"] == param
    assert len(refused.text) < 2_500
    assert mockft.job(job_id).status == "validating_files"
