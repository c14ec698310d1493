"""Fault injection: rule matching, the error bodies and headers, the control API, and what
the unchanged openai SDK does against it (retries, honours the headers), in-process and
over real HTTP."""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import openai
import pytest

from mockft import errors, ratelimits
from mockft.pytest_plugin import MockFT, MockFTServer
from mockft.service import chaos
from mockft.service.chaos import Chaos, ChaosSpec
from tests.openapi_contract import schema_violations

FAST_RETRY = {"retry_after_ms": 1}  # the SDK waits what the server says: 1 ms
TRAINING = (Path(__file__).resolve().parent.parent / "fixtures" / "train_chat.jsonl").read_bytes()


def rule(**spec: Any) -> ChaosSpec:
    return ChaosSpec.model_validate(spec)


def picks(box: Chaos, requests: list[tuple[str, str]]) -> list[str | None]:
    fired = [box.pick(method, path) for method, path in requests]
    return [r.id if r is not None else None for r in fired]


# --- rules (pure) ------------------------------------------------------------------------


def test_a_rule_hits_all_of_v1_by_default_and_never_the_control_api() -> None:
    box = Chaos()
    box.add(rule(status=500))
    assert picks(
        box,
        [("GET", "/v1/models"), ("POST", "/v1/fine_tuning/jobs/ftjob-1/cancel"), ("GET", "/x")],
    ) == ["chaos_1", "chaos_1", None]
    assert box.pick("DELETE", "/mockft/chaos") is None


def test_globs_regexes_and_methods_narrow_a_rule() -> None:
    box = Chaos()
    box.add(rule(path="/v1/files*", method="post", status=503))
    box.add(rule(path_regex=r"^/v1/fine_tuning/jobs/[^/]+$", status=502))
    assert picks(
        box,
        [
            ("POST", "/v1/files"),
            ("GET", "/v1/files"),
            ("GET", "/v1/fine_tuning/jobs/ftjob-abc"),
            ("GET", "/v1/fine_tuning/jobs/ftjob-abc/events"),
        ],
    ) == ["chaos_1", None, "chaos_2", None]


def test_times_counts_only_matching_requests_then_the_rule_is_spent() -> None:
    box = Chaos()
    spent = box.add(rule(path="/v1/models", times=2, status=429))
    requests = [("GET", "/v1/models"), ("GET", "/v1/files"), ("GET", "/v1/models")] * 2
    assert picks(box, requests) == ["chaos_1", None, "chaos_1", None, None, None]
    assert spent.exhausted and spent.injected == 2


def test_the_first_live_rule_in_order_wins() -> None:
    box = Chaos()
    box.add(rule(times=1, status=429))
    box.add(rule(status=500))
    assert picks(box, [("GET", "/v1/models")] * 3) == ["chaos_1", "chaos_2", "chaos_2"]


def test_a_probability_is_a_seeded_draw_per_matching_request() -> None:
    seed, probability, n = 42, 0.3, 200
    draws = random.Random(seed)
    expected = ["chaos_1" if draws.random() < probability else None for _ in range(n)]
    for _ in range(2):  # the same seed gives the same faults, run after run
        box = Chaos(seed=seed)
        box.add(rule(probability=probability, status=500))
        assert picks(box, [("GET", "/v1/models")] * n) == expected
    assert 0 < expected.count("chaos_1") < n


def test_a_rule_seed_overrides_the_server_seed() -> None:
    one, other = Chaos(seed=1), Chaos(seed=2)
    for box in (one, other):
        box.add(rule(probability=0.5, seed=9, status=500))
    requests = [("GET", "/v1/models")] * 50
    assert picks(one, requests) == picks(other, requests)


def test_probability_and_times_together_inject_at_most_n_faults() -> None:
    box = Chaos(seed=3)
    spent = box.add(rule(probability=0.5, times=3, status=500))
    fired = picks(box, [("GET", "/v1/models")] * 100)
    assert fired.count("chaos_1") == 3 and spent.exhausted


@pytest.mark.parametrize(
    ("spec", "param"),
    [
        ({}, "status"),
        ({"status": 500, "drop": True}, "drop"),
        ({"drop": True, "timeout": True}, "timeout"),
        ({"drop": True, "retry_after": 1}, "retry_after"),
        ({"status": 500, "path": "/v1/*", "path_regex": "x"}, "path_regex"),
        ({"status": 500, "path_regex": "("}, "path_regex"),
        ({"status": 418}, "status"),
        ({"status": 500, "times": 0}, "times"),
        ({"status": 500, "probability": 1.5}, "probability"),
        ({"status": 500, "colour": "red"}, "colour"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_param(spec: dict[str, Any], param: str) -> None:
    with pytest.raises(errors.APIError) as refused:
        Chaos().add_from(spec)
    assert refused.value.status == 400
    assert refused.value.param == param


# --- error bodies and headers ------------------------------------------------------------


def test_a_429_reads_like_the_real_rate_limit() -> None:
    error = chaos.chaos_error(rule(status=429, retry_after_ms=20), 429, "org-abc")
    assert error.body()["error"] == {
        "message": "Rate limit reached for organization org-abc on requests per min (RPM): "
        "Limit 60, Used 60, Requested 1. Please try again in 20ms. Visit "
        "https://platform.openai.com/account/rate-limits to learn more.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
    assert error.headers["retry-after-ms"] == "20"
    assert error.headers["x-ratelimit-remaining-requests"] == "0"
    assert "retry-after" not in error.headers


def test_a_model_calls_429_names_the_model_and_announces_its_limits() -> None:
    spec = rule(status=429, retry_after=2)
    error = chaos.chaos_error(spec, 429, "org-abc", "ft:gpt-4o-mini-2024-07-18:acme::9x9umpsR")
    limits = ratelimits.limits_for("gpt-4o-mini")
    assert error.message == (
        f"Rate limit reached for gpt-4o-mini in organization org-abc on requests per min (RPM): "
        f"Limit {limits.requests}, Used {limits.requests}, Requested 1. Please try again in "
        "2s. Visit https://platform.openai.com/account/rate-limits to learn more."
    )
    assert error.headers == {
        **ratelimits.headers(limits, 0),
        "retry-after": "2",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "2s",
    }
    # A model of no known family: the organization-wide wording.
    unknown = chaos.chaos_error(spec, 429, "org-abc", "somebody-else")
    assert unknown.message.startswith("Rate limit reached for organization org-abc ")


def test_a_429_on_a_model_call_reads_the_model_from_the_body_within_the_limit(
    mockft: MockFT,
) -> None:
    mockft.chaos(path="/v1/chat/completions", status=429, times=4)
    http = mockft.http_client()
    hello = [{"role": "user", "content": "hi"}]
    named = http.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": hello})
    assert named.json()["error"]["message"].startswith("Rate limit reached for gpt-4o in ")
    assert named.headers["x-ratelimit-limit-requests"] == str(ratelimits.LIMITS["gpt-4o"].requests)
    # No model to read (not JSON, no `model`, a body past the JSON limit): the generic one.
    too_long = b'{"model": "gpt-4o", "pad": "' + b"x" * mockft.service.settings.max_json_bytes
    for body in (b"{not json", b'{"messages": []}', too_long + b'"}'):
        refused = http.post("/v1/chat/completions", content=body)
        assert refused.status_code == 429
        assert refused.json()["error"]["message"].startswith("Rate limit reached for organization")


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_use_the_envelope_and_x_should_retry(status: int) -> None:
    error = chaos.chaos_error(rule(status=status, should_retry=False), status, "org-abc")
    assert schema_violations("ErrorResponse", error.body()) == []
    assert error.headers == {"x-should-retry": "false"}
    if status == 500:
        assert error.message == errors.SERVER_ERROR_MESSAGE
        assert error.type == "server_error"


# --- the unchanged SDK against chaos, in-process -----------------------------------------


def test_the_sdk_retries_two_429s_and_succeeds_with_three_attempts_logged(mockft: MockFT) -> None:
    mockft.chaos(status=429, times=2, **FAST_RETRY)
    client = mockft.openai()  # the SDK's default retries (2)

    models = client.models.list()

    assert any(m.id == "gpt-4o-mini" for m in models.data)
    attempts = [(r.method, r.path, r.status, r.chaos) for r in mockft.requests]
    assert attempts == [
        ("GET", "/v1/models", 429, True),
        ("GET", "/v1/models", 429, True),
        ("GET", "/v1/models", 200, False),
    ]
    assert len({r.request_id for r in mockft.requests}) == 3


def test_the_sdk_gives_up_after_its_retries(mockft: MockFT) -> None:
    mockft.chaos(status=500, **FAST_RETRY)
    client = mockft.openai(max_retries=3)
    with pytest.raises(openai.InternalServerError) as failed:
        client.files.list()
    assert failed.value.status_code == 500
    assert failed.value.body == {
        "message": errors.SERVER_ERROR_MESSAGE,
        "type": "server_error",
        "param": None,
        "code": None,
    }
    assert [r.status for r in mockft.requests] == [500] * 4


def test_x_should_retry_false_stops_the_sdk_retrying_a_503(mockft: MockFT) -> None:
    mockft.chaos(status=503, should_retry=False)
    with pytest.raises(openai.InternalServerError) as failed:
        mockft.openai().models.list()
    assert failed.value.status_code == 503
    assert [r.status for r in mockft.requests] == [503]


def test_x_should_retry_true_makes_the_sdk_retry_what_it_would_not(mockft: MockFT) -> None:
    # A 503 is retried anyway; the header forces a retry. Both attempts are visible.
    mockft.chaos(status=503, should_retry=True, times=1, **FAST_RETRY)
    assert mockft.openai().models.retrieve("gpt-4o-mini").id == "gpt-4o-mini"
    assert [r.status for r in mockft.requests] == [503, 200]


def test_a_dropped_connection_is_a_connection_error_and_is_retried(mockft: MockFT) -> None:
    mockft.chaos(drop=True, times=1)
    with pytest.raises(openai.APIConnectionError):
        mockft.openai(max_retries=0).models.list()
    mockft.chaos(drop=True, times=1)
    assert mockft.openai().models.list().data
    assert [(r.status, r.chaos) for r in mockft.requests] == [
        (None, True),
        (None, True),
        (200, False),
    ]


def test_a_held_request_outlasts_the_client_timeout(mockft: MockFT) -> None:
    mockft.chaos(timeout=True, path="/v1/files", method="GET")
    client = mockft.openai(max_retries=0, timeout=0.05)
    with pytest.raises(openai.APITimeoutError):
        client.files.list()
    assert client.models.list().data  # other routes are untouched
    assert [(r.path, r.status) for r in mockft.requests] == [
        ("/v1/files", None),
        ("/v1/models", 200),
    ]


def test_latency_delays_but_keeps_the_real_answer(mockft: MockFT) -> None:
    added = mockft.chaos(latency_ms=5, times=1)
    assert mockft.openai().models.retrieve("gpt-4o-mini").id == "gpt-4o-mini"
    assert added.injected == 1
    assert [(r.status, r.chaos) for r in mockft.requests] == [(200, True)]


def test_a_429_can_target_one_route_and_one_method(mockft: MockFT) -> None:
    mockft.chaos(path="/v1/fine_tuning/jobs", method="POST", status=429, times=1, **FAST_RETRY)
    client = mockft.openai()
    training = client.files.create(file=("train.jsonl", TRAINING), purpose="fine-tune")
    client.fine_tuning.jobs.list()
    client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training.id)
    assert [(r.method, r.path, r.status) for r in mockft.requests] == [
        ("POST", "/v1/files", 200),
        ("GET", "/v1/fine_tuning/jobs", 200),
        ("POST", "/v1/fine_tuning/jobs", 429),
        ("POST", "/v1/fine_tuning/jobs", 200),
    ]


def test_the_async_sdk_retries_too(mockft: MockFT) -> None:
    import asyncio

    mockft.chaos(status=429, times=2, **FAST_RETRY)

    async def list_models() -> int:
        client = mockft.async_openai()
        try:
            return len((await client.models.list()).data)
        finally:
            await client.close()

    assert asyncio.run(list_models()) > 0
    assert [r.status for r in mockft.requests] == [429, 429, 200]


# --- the control API ---------------------------------------------------------------------


def test_the_chaos_endpoints_add_list_delete_and_clear(mockft: MockFT) -> None:
    http = mockft.http_client()
    added = http.post("/mockft/chaos", json={"path": "/v1/models", "status": 429, "times": 2})
    assert added.status_code == 200
    body = added.json()
    assert body["object"] == "mockft.chaos_rule" and body["id"] == "chaos_1"
    assert (body["fault"], body["remaining"], body["injected"]) == ("error", 2, 0)
    http.post("/mockft/chaos", json={"drop": True, "path": "/v1/files"})

    assert http.get("/v1/models").status_code == 429
    listed = http.get("/mockft/chaos").json()["data"]
    assert [(r["id"], r["remaining"], r["injected"]) for r in listed] == [
        ("chaos_1", 1, 1),
        ("chaos_2", None, 0),
    ]

    assert http.delete("/mockft/chaos/chaos_1").json() == {
        "object": "mockft.chaos_rule",
        "id": "chaos_1",
        "deleted": True,
    }
    missing = http.delete("/mockft/chaos/chaos_1")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "No such chaos rule: chaos_1"
    assert http.delete("/mockft/chaos").json() == {"object": "list", "deleted": 1}
    assert http.get("/mockft/chaos").json() == {"object": "list", "data": []}
    assert http.get("/v1/models").status_code == 200


def test_a_bad_rule_over_http_is_a_400_in_the_envelope(mockft: MockFT) -> None:
    http = mockft.http_client()
    for body, param in (({"status": "500"}, "status"), ({"latency_ms": -1}, "latency_ms")):
        refused = http.post("/mockft/chaos", json=body)
        assert refused.status_code == 400
        assert refused.json()["error"]["param"] == param
        assert schema_violations("ErrorResponse", refused.json()) == []
    not_json = http.post("/mockft/chaos", content=b"{", headers={"content-type": "x"})
    assert not_json.status_code == 400


def test_the_request_log_endpoint_shows_each_attempt(mockft: MockFT) -> None:
    http = mockft.http_client()
    http.post("/mockft/chaos", json={"status": 502, "times": 1})
    http.get("/v1/models")
    http.get("/v1/models/gpt-4o-mini")
    http.get("/nowhere")
    log = http.get("/mockft/requests").json()
    assert [(e["path"], e["status"], e["chaos"]) for e in log["data"]] == [
        ("/v1/models", 502, True),
        ("/v1/models/gpt-4o-mini", 200, False),
        ("/nowhere", 404, False),
    ]
    assert log["data"][0]["chaos_rule"] == "chaos_1"
    assert all(e["request_id"].startswith("req_") for e in log["data"])
    assert http.delete("/mockft/requests").json() == {"object": "list", "deleted": 3}
    assert http.get("/mockft/requests").json()["data"] == []


def test_the_chaos_control_api_is_guarded_like_v1(mockft: MockFT) -> None:
    http = mockft.http_client()
    http.headers.pop("Authorization")
    refused = http.post("/mockft/chaos", json={"status": 500})
    assert refused.status_code == 401
    assert http.get("/mockft/requests").status_code == 401
    assert mockft.chaos_rules.rules() == []


def test_a_chaos_error_carries_the_openai_headers(mockft: MockFT) -> None:
    mockft.chaos(status=429, retry_after=2)
    answered = mockft.http_client().get("/v1/models")
    assert answered.status_code == 429
    assert answered.headers["retry-after"] == "2"
    assert answered.headers["x-request-id"].startswith("req_")
    assert answered.headers["openai-organization"] == mockft.service.keys.default.name
    assert "Please try again in 2s." in answered.json()["error"]["message"]


# --- over real HTTP (uvicorn) ------------------------------------------------------------


def test_against_a_live_server_the_sdk_retries_429s(mockft_server: MockFTServer) -> None:
    http = mockft_server.http_client()
    http.post("/mockft/chaos", json={"status": 429, "times": 2, **FAST_RETRY})
    with openai.OpenAI() as client:  # from OPENAI_BASE_URL / OPENAI_API_KEY
        assert client.models.list().data

    log = http.get("/mockft/requests").json()["data"]
    assert [(e["status"], e["chaos"]) for e in log] == [(429, True), (429, True), (200, False)]


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_live_server_drops_and_holds_connections_without_answering(
    mockft_server: MockFTServer,
) -> None:
    client = mockft_server.openai(max_retries=0, timeout=0.2)
    server_log = logging.getLogger("uvicorn.error")  # does not propagate to the root logger
    seen = Records()
    server_log.addHandler(seen)
    try:
        mockft_server.chaos(drop=True, times=1)
        with pytest.raises(openai.APIConnectionError) as dropped:
            client.models.list()
        mockft_server.chaos(timeout=True, times=1)
        with pytest.raises(openai.APITimeoutError):
            client.models.list()
        assert client.models.list().data
    finally:
        server_log.removeHandler(seen)
    assert "disconnected without sending a response" in str(dropped.value.__cause__)
    assert [r.status for r in mockft_server.requests] == [None, None, 200]
    # The server did not try to answer the dropped requests itself (no 500, no error).
    assert [r.getMessage() for r in seen.records if r.levelno >= logging.WARNING] == []


def test_reset_endpoint_clears_rules_and_the_request_log(mockft: Any) -> None:
    client = mockft.openai(max_retries=0)
    mockft.chaos(status=503, times=5)
    with pytest.raises(openai.APIStatusError):
        client.models.list()
    assert mockft.requests
    with mockft.http_client() as http:
        assert http.post("/mockft/reset").status_code == 200
    assert mockft.requests == []
    assert client.models.list().data  # no rule left to answer 503
