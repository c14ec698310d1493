"""The dashboard over HTTP, in process: every page shows what the API answers, sign-in and
forms are guarded, operator actions reach the service, and the API does not notice it."""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from mockft import cli, lifecycle
from mockft import validation as validation_rules
from mockft.app import create_app
from mockft.config import Settings
from tests.conftest import FIXTURES, START, Server
from tests.test_fine_tuning import _Gate

KEY = "sk-dash-a"
OTHER_KEY = "sk-dash-b"
AUTH = {"Authorization": f"Bearer {KEY}"}
SEPARATED = frozenset({"td", "th", "li", "dt", "dd", "p"})
VOID = frozenset({"area", "br", "col", "hr", "img", "input", "link", "meta", "source", "wbr"})


# -- a small HTML reader: elements with their attributes and text -------------------------


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join("".join(self.parts).split())


class Page(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.elements.append(element)
        if tag not in VOID:
            self._open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        if tag in SEPARATED:  # cells and items read as words apart
            self.handle_data(" ")
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index].tag == tag:
                del self._open[index:]
                break

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.parts.append(data)

    def all(self, tag: str | None = None, **attrs: str | bool) -> list[Element]:
        """Elements of `tag` whose attributes match: a string is the value, True any value
        (`data_step=True` is the attribute `data-step`)."""
        found = []
        for element in self.elements:
            if tag is not None and element.tag != tag:
                continue
            if all(
                (name.replace("_", "-") in element.attrs)
                if wanted is True
                else element.attrs.get(name.replace("_", "-")) == wanted
                for name, wanted in attrs.items()
            ):
                found.append(element)
        return found

    def one(self, tag: str | None = None, **attrs: str | bool) -> Element:
        found = self.all(tag, **attrs)
        assert len(found) == 1, (tag, attrs, [e.attrs for e in found])
        return found[0]


# -- fixtures -----------------------------------------------------------------------------


def make_client(tmp_path: Path, **overrides: Any) -> TestClient:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "clock": "manual",
        "seed": 7,
        "start_time": START,
    }
    values.update(overrides)
    return TestClient(create_app(Settings(**values)), follow_redirects=False)


@pytest.fixture
def web(tmp_path: Path) -> Iterator[TestClient]:
    with make_client(tmp_path) as client:
        yield client


def upload(client: TestClient, path: Path, headers: dict[str, str] = AUTH) -> str:
    response = client.post(
        "/v1/files",
        headers=headers,
        files={"file": (path.name, path.read_bytes())},
        data={"purpose": "fine-tune"},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def create_job(client: TestClient, headers: dict[str, str] = AUTH, **body: Any) -> dict[str, Any]:
    if "training_file" not in body:
        body["training_file"] = upload(client, FIXTURES / "train_chat.jsonl", headers)
    response = client.post(
        "/v1/fine_tuning/jobs", headers=headers, json={"model": "gpt-4o-mini", **body}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def api(client: TestClient, path: str, headers: dict[str, str] = AUTH) -> Any:
    response = client.get("/v1" + path, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def all_events(client: TestClient, job_id: str) -> list[dict[str, Any]]:
    return list(api(client, f"/fine_tuning/jobs/{job_id}/events?limit=10000")["data"])


def advance(client: TestClient, seconds: float) -> None:
    response = client.post("/mockft/clock/advance", headers=AUTH, json={"seconds": seconds})
    assert response.status_code == 200, response.text


def form_token(client: TestClient, path: str) -> str:
    page = Page(client.get(path).text)
    return page.all("input", name="csrf")[0].attrs["value"]


def post_form(
    client: TestClient,
    path: str,
    data: dict[str, str],
    page: str,
    headers: dict[str, str] | None = None,
) -> Any:
    return client.post(path, data={"csrf": form_token(client, page), **data}, headers=headers)


# -- pages show what the API shows ---------------------------------------------------------


def test_opens_directly_without_keys_and_loads_nothing_from_elsewhere(web: TestClient) -> None:
    assert web.get("/dashboard").headers["location"] == "/dashboard/"
    response = web.get("/dashboard/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    page = Page(response.text)
    sources = [
        e.attrs.get("src") or e.attrs.get("href") or e.attrs.get("action") or ""
        for e in page.elements
    ]
    assert sources and not [s for s in sources if re.match(r"^(https?:)?//", s)]
    for asset in ("dashboard.css", "dashboard.js", "favicon.svg"):
        assert web.get(f"/dashboard/static/{asset}").status_code == 200
    assert page.one("a", href="/dashboard/operator")  # no keys: the operator's page too


def test_job_page_shows_what_the_api_says(web: TestClient) -> None:
    validation = upload(web, FIXTURES / "valid_chat.jsonl")
    job = create_job(web, suffix="marv", validation_file=validation, metadata={"team": "a"})
    advance(web, 5_000)
    api_job = api(web, f"/fine_tuning/jobs/{job['id']}")
    events = all_events(web, job["id"])
    checkpoints = api(web, f"/fine_tuning/jobs/{job['id']}/checkpoints?limit=100")["data"]
    metrics = [e for e in events if e["type"] == "metrics"]
    assert api_job["status"] == "succeeded" and checkpoints and metrics

    page = Page(web.get(f"/dashboard/jobs/{job['id']}").text)
    assert page.all("span", data_status="succeeded")
    progress = page.one("dd", id="job-progress").text
    total = metrics[0]["data"]["total_steps"]
    assert f"step {total}/{total}" in progress
    for name, value in api_job["hyperparameters"].items():
        assert page.one("dd", data_name=name).text == str(value)
    assert page.one("dd", data_trained_tokens=str(api_job["trained_tokens"]))
    shown_checkpoints = [
        (e.attrs["data-checkpoint"], e.text) for e in page.all(data_checkpoint=True)
    ]
    assert [c for c, _ in shown_checkpoints] == [c["id"] for c in checkpoints]
    for (_, text), checkpoint in zip(shown_checkpoints, checkpoints):
        assert checkpoint["fine_tuned_model_checkpoint"] in text
    shown_events = page.all("tr", data_event=True)
    assert [e.attrs["data-event"] for e in shown_events] == [e["id"] for e in events[:25]]
    assert [e.text.split(" UTC ", 1)[1] for e in shown_events[:3]] == [
        f"{e['level']} {e['message']}" for e in events[:3]
    ]
    assert page.one(data_total=str(len(events)))
    timeline = page.one("ol", **{"class": "timeline"}).text
    for status in ("validating files", "queued", "running", "succeeded"):
        assert status in timeline

    loss = page.one("polyline", data_series="train_loss")
    assert int(loss.attrs["data-count"]) == len(metrics) == total  # one vertex per step
    assert len(loss.attrs["points"].split()) == total
    full = page.one("g", data_series="full_valid_loss")
    epochs = api_job["hyperparameters"]["n_epochs"]
    assert int(full.attrs["data-count"]) == epochs
    marked = {int(e.attrs["data-step"]) for e in page.all("g", **{"class": "checkpoint"})}
    assert marked == {c["step_number"] for c in checkpoints}

    result_id = api_job["result_files"][0]
    csv_bytes = base64.b64decode(web.get(f"/v1/files/{result_id}/content", headers=AUTH).content)
    download = web.get(f"/dashboard/jobs/{job['id']}/result.csv")
    assert download.content == csv_bytes
    assert "attachment" in download.headers["content-disposition"]
    table = page.one("table", **{"class": "csv"}).text
    for line in csv_bytes.decode().splitlines()[:3]:
        assert " ".join(cell for cell in line.split(",") if cell) in table  # blank: no valid


def test_events_are_paged_newest_first(web: TestClient) -> None:
    job = create_job(web)
    advance(web, 5_000)
    events = all_events(web, job["id"])
    assert len(events) > 25
    first = Page(web.get(f"/dashboard/jobs/{job['id']}").text)
    link = next(a for a in first.all("a") if "events_after=" in a.attrs.get("href", ""))
    second = Page(web.get(link.attrs["href"].split("#")[0]).text)
    ids = [e.attrs["data-event"] for e in second.all("tr", data_event=True)]
    assert ids == [e["id"] for e in events[25:50]]


def test_jobs_list_and_its_filters(web: TestClient) -> None:
    done = create_job(web, suffix="first", metadata={"team": "a"})
    advance(web, 5_000)
    waiting = create_job(web, suffix="second", metadata={"team": "b"})
    page = Page(web.get("/dashboard/").text)
    rows = page.all("tr", data_job=True)
    assert [r.attrs["data-job"] for r in rows] == [waiting["id"], done["id"]]  # newest first
    assert "first" in rows[1].text and "step " in rows[1].text
    assert page.all("span", data_status="succeeded") and page.all(
        "span", data_status="validating_files"
    )

    def listed(query: str) -> list[str]:
        return [
            r.attrs["data-job"]
            for r in Page(web.get("/dashboard/?" + query).text).all("tr", data_job=True)
        ]

    assert listed("status=succeeded") == [done["id"]]
    assert listed("status=validating_files") == [waiting["id"]]
    assert listed("status=running") == []
    assert listed("metadata=team%3Db") == [waiting["id"]]
    assert listed("metadata=team%3Da&status=succeeded") == [done["id"]]
    bad = web.get("/dashboard/?metadata=nonsense")
    assert bad.status_code == 400 and "key=value" in bad.text
    assert web.get("/dashboard/?status=finished").status_code == 400


def test_a_live_region_is_a_fragment_that_changes_with_the_clock(web: TestClient) -> None:
    job = create_job(web)
    url = f"/dashboard/jobs/{job['id']}"
    page = Page(web.get(url).text)
    region = page.one("div", id="live")
    assert region.attrs["data-live"] == url
    headers = {"X-Dashboard-Fragment": "1"}
    first = web.get(url, headers=headers)
    assert first.status_code == 200 and "<html" not in first.text
    assert first.headers["etag"] == region.attrs["data-etag"]  # the page's region, unchanged
    same = web.get(url, headers={**headers, "If-None-Match": first.headers["etag"]})
    assert same.status_code == 304
    advance(web, 5_000)
    moved = web.get(url, headers={**headers, "If-None-Match": first.headers["etag"]})
    assert moved.status_code == 200 and 'data-status="succeeded"' in moved.text
    clock = web.get("/dashboard/clock", headers=headers)
    assert f'data-now="{START + 5_000}"' in clock.text


def test_unknown_things_are_pages_not_json(web: TestClient) -> None:
    missing = web.get("/dashboard/jobs/ftjob-nope")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "Could not find fine tune: ftjob-nope" in missing.text
    assert web.get("/dashboard/no/such/page").status_code == 404
    api_miss = web.get("/v1/dashboard", headers=AUTH)
    assert api_miss.status_code == 404 and "error" in api_miss.json()  # the API's envelope


# -- files and models ----------------------------------------------------------------------


def test_training_file_page_has_the_cli_report_and_first_examples(
    web: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    path = FIXTURES / "train_chat.jsonl"
    file_id = upload(web, path)
    assert cli.main(["validate", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    page = Page(web.get(f"/dashboard/files/{file_id}").text)
    assert page.one(data_valid="true")
    checks = {e.attrs["data-check"]: e.text for e in page.all("tr", data_check=True)}
    assert set(checks) == {c["code"] for c in report["checks"]}
    facts = page.one("section", **{"class": "report"}).text
    assert f"{report['n_examples']} ({report['n_lines']} lines)" in facts
    assert f"total {report['tokens']['total']:,}" in facts
    assert f"${report['estimated_cost']:.2f}" in facts
    assert page.one(data_over_limit=str(report["examples_over_limit"]))
    first_line = json.loads(path.read_text().splitlines()[0])
    bubbles = page.all("li", **{"class": "bubble role-user"})
    assert len(page.all("article")) == 5
    assert bubbles[0].text.endswith(first_line["messages"][1]["content"])
    assert web.get(f"/dashboard/files/{file_id}/content").content == path.read_bytes()
    listing = Page(web.get("/dashboard/files").text)
    row = listing.one("tr", data_file=file_id).text
    assert f"{path.name} {file_id} fine-tune {path.stat().st_size:,} processed" in row


def test_an_invalid_file_shows_the_error_a_job_would_get(
    web: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    path = FIXTURES / "bad" / "missing_role.jsonl"
    file_id = upload(web, path)
    cli.main(["validate", str(path), "--json"])
    error = json.loads(capsys.readouterr().out)["error"]
    page = Page(web.get(f"/dashboard/files/{file_id}").text)
    verdict = page.one(data_valid="false").text
    assert error["code"] in verdict and " ".join(error["message"].split()) in verdict
    failing = [e for e in page.all("tr", data_check=True) if "fail" in e.attrs["class"]]
    assert failing


@pytest.mark.parametrize(
    ("fixture", "roles", "note"),
    [
        ("train_dpo.jsonl", ["system", "user", "assistant", "assistant"], "not preferred"),
        ("train_prompt_completion.jsonl", ["user", "assistant"], "completion"),
        ("train_tools.jsonl", ["system", "user", "assistant"], "calls get_current_weather()"),
    ],
)
def test_every_format_is_a_conversation(
    web: TestClient, fixture: str, roles: list[str], note: str
) -> None:
    file_id = upload(web, FIXTURES / fixture)
    page = Page(web.get(f"/dashboard/files/{file_id}").text)
    first = page.all("article")[0]
    shown = [e for e in page.all("li") if "bubble" in e.attrs.get("class", "")]
    first_roles = [e.attrs["class"].removeprefix("bubble role-") for e in shown][: len(roles)]
    assert first_roles == roles
    assert note in first.text
    assert page.one(data_valid="true")  # the defaults follow the file, as mockft validate's


def test_models_page_and_playground_answer_as_the_api(web: TestClient) -> None:
    lines = (FIXTURES / "train_chat.jsonl").read_text().splitlines()
    trained = json.loads(lines[0])["messages"]
    job = create_job(web, suffix="marv")
    advance(web, 5_000)
    tuned = [m["id"] for m in api(web, "/models")["data"] if m["id"].startswith("ft:")]
    page = Page(web.get("/dashboard/models").text)
    assert sorted(e.attrs["data-model"] for e in page.all("tr", data_model=True)) == sorted(tuned)
    model = api(web, f"/fine_tuning/jobs/{job['id']}")["fine_tuned_model"]
    ask = {"model": model, "system": trained[0]["content"], "user": trained[1]["content"]}
    reply = post_form(web, "/dashboard/models/chat", {**ask, "seed": ""}, "/dashboard/models")
    assert reply.status_code == 200
    answer = Page(reply.text).one("li", **{"class": "bubble role-assistant"}).text
    via_api = web.post(
        "/v1/chat/completions",
        headers=AUTH,
        json={"model": model, "messages": trained[:2]},
    ).json()["choices"][0]["message"]["content"]
    assert answer.endswith(via_api) and via_api == trained[2]["content"]
    scripted = post_form(
        web, "/dashboard/models/chat", ask, "/dashboard/models", {"X-Dashboard-Fragment": "1"}
    )
    assert "<html" not in scripted.text
    assert Page(scripted.text).one("li", **{"class": "bubble role-assistant"}).text == answer
    unknown = post_form(
        web, "/dashboard/models/chat", {**ask, "model": "ft:nope"}, "/dashboard/models"
    )
    refusal = web.post(
        "/v1/chat/completions", headers=AUTH, json={"model": "ft:nope", "messages": trained[:2]}
    ).json()["error"]["message"]
    assert Page(unknown.text).one("p", role="alert").text == refusal


# -- sign-in, CSRF, operator actions -------------------------------------------------------


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[TestClient]:
    with make_client(tmp_path, api_keys=(KEY, f"{OTHER_KEY}=org-b")) as client:
        yield client


def sign_in(client: TestClient, key: str) -> Any:
    return post_form(
        client, "/dashboard/login", {"key": key, "next": "/dashboard/"}, "/dashboard/login"
    )


def test_with_keys_a_key_opens_its_own_organization(keyed: TestClient) -> None:
    mine = create_job(keyed)
    theirs = create_job(keyed, headers={"Authorization": f"Bearer {OTHER_KEY}"})
    gate = keyed.get("/dashboard/jobs/" + mine["id"])
    assert gate.status_code == 303 and gate.headers["location"].startswith("/dashboard/login")
    assert keyed.get("/dashboard/", headers={"X-Dashboard-Fragment": "1"}).status_code == 401
    refused = sign_in(keyed, "sk-wrong")
    # The form again with the refusal (a 200: a 401 page is a console error in a browser).
    assert refused.status_code == 200 and "Incorrect API key provided" in refused.text
    assert Page(refused.text).one("title").text.startswith("Error: ")
    assert sign_in(keyed, KEY).status_code == 303
    listed = Page(keyed.get("/dashboard/").text).all("tr", data_job=True)
    assert [r.attrs["data-job"] for r in listed] == [mine["id"]]
    assert keyed.get("/dashboard/jobs/" + theirs["id"]).status_code == 404
    assert post_form(keyed, "/dashboard/logout", {}, "/dashboard/").status_code == 303
    assert keyed.get("/dashboard/").status_code == 303


def test_forms_without_the_token_or_from_elsewhere_change_nothing(web: TestClient) -> None:
    job = create_job(web)
    web.get("/dashboard/")  # the browser has its token cookie
    action = f"/dashboard/jobs/{job['id']}/actions"
    no_token = web.post(action, data={"action": "cancel"})
    assert no_token.status_code == 403
    token = form_token(web, f"/dashboard/jobs/{job['id']}")
    foreign = web.post(
        action,
        data={"action": "cancel", "csrf": token},
        headers={"Origin": "http://evil.example"},
    )
    assert foreign.status_code == 403
    cross = web.post(
        action, data={"action": "cancel", "csrf": token}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert cross.status_code == 403
    assert api(web, f"/fine_tuning/jobs/{job['id']}")["status"] == "validating_files"
    done = web.post(
        action,
        data={"action": "cancel", "csrf": token, "next": f"/dashboard/jobs/{job['id']}"},
        headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
    )
    assert done.status_code == 303 and done.headers["location"] == f"/dashboard/jobs/{job['id']}"
    assert api(web, f"/fine_tuning/jobs/{job['id']}")["status"] == "cancelled"
    page = web.get(done.headers["location"])
    assert f"Job {job['id']} cancelled." in Page(page.text).one("p", role="status").text
    again = post_form(web, action, {"action": "cancel"}, f"/dashboard/jobs/{job['id']}")
    refusal = Page(web.get(again.headers["location"]).text).one("p", role="alert").text
    assert refusal == f"Job {job['id']} cannot be cancelled because it is cancelled."


def test_the_playground_offers_only_models_that_chat(web: TestClient) -> None:
    """Base models whose catalog endpoint is chat, and fine-tuned models of such a base:
    not whisper, embeddings or babbage-002, nor a babbage-002 fine-tune."""
    chat_job = create_job(web, suffix="chat")
    legacy_file = upload(web, FIXTURES / "train_prompt_completion.jsonl")
    legacy_job = create_job(web, model="babbage-002", training_file=legacy_file)
    advance(web, 5_000)
    chat_model = api(web, f"/fine_tuning/jobs/{chat_job['id']}")["fine_tuned_model"]
    legacy_model = api(web, f"/fine_tuning/jobs/{legacy_job['id']}")["fine_tuned_model"]
    page = Page(web.get("/dashboard/models").text)
    offered = {e.text for e in page.all("option") if e.text}
    assert {"gpt-4o-mini", "gpt-4o-mini-2024-07-18", chat_model} <= offered
    assert not offered & {"whisper-1", "text-embedding-3-small", "babbage-002", legacy_model}
    for model in offered:  # every one answers the playground's request on the API
        asked = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
        assert web.post("/v1/chat/completions", headers=AUTH, json=asked).status_code == 200
    rows = {e.attrs["data-model"]: e.text for e in page.all("tr", data_model=True)}
    assert "Try it" in rows[chat_model] and "Try it" not in rows[legacy_model]


@pytest.mark.live  # requests from several connections at once, on a real socket
def test_a_job_action_awaits_a_validation_in_progress_without_holding_anyone_up(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Like the control API's job routes: the cancel waits for the training file's
    validation (off the event loop) and every other request is answered meanwhile."""
    gate = _Gate(validation_rules.validate_file)
    monkeypatch.setattr(validation_rules, "validate_file", gate)
    with httpx.Client(base_url=server.root_url, headers=AUTH, timeout=5) as quick:
        sent = {"file": ("t.jsonl", (FIXTURES / "train_chat.jsonl").read_bytes())}
        training = quick.post("/v1/files", files=sent, data={"purpose": "fine-tune"}).json()
        job = quick.post(
            "/v1/fine_tuning/jobs", json={"model": "gpt-4o-mini", "training_file": training["id"]}
        ).json()
        assert gate.entered.wait(timeout=10)  # the validation is under way, and held
        server.advance(lifecycle.VALIDATION_BASE_SECONDS + 60)  # its outcome is needed now
        with httpx.Client(base_url=server.root_url, timeout=30) as browser:
            token = Page(browser.get("/dashboard/operator").text).all("input", name="csrf")[0]
            form = {"csrf": token.attrs["value"], "action": "cancel"}
            done: dict[str, Any] = {}
            action = threading.Thread(
                target=lambda: done.update(
                    answer=browser.post(f"/dashboard/jobs/{job['id']}/actions", data=form)
                )
            )
            action.start()
            for _ in range(5):  # the server keeps answering everyone else meanwhile
                assert quick.get("/v1/models/gpt-4o-mini").status_code == 200
            assert "answer" not in done  # the cancel is waiting for the validation
            gate.released.set()
            action.join(timeout=30)
        assert done["answer"].status_code == 303
        assert quick.get(f"/v1/fine_tuning/jobs/{job['id']}").json()["status"] == "cancelled"


def test_operator_moves_the_clock_and_fails_and_completes_jobs(web: TestClient) -> None:
    page = "/dashboard/operator"
    assert post_form(web, "/dashboard/operator/clock", {"seconds": "60"}, page).status_code == 303
    assert web.get("/mockft/clock", headers=AUTH).json()["now"] == START + 60
    post_form(web, "/dashboard/operator/clock", {"now": "2025-06-16T00:00:00"}, page)
    assert web.get("/mockft/clock", headers=AUTH).json()["now"] == 1_750_032_000
    post_form(web, "/dashboard/operator/clock", {"now": str(START)}, page)  # backwards: refused
    assert web.get("/mockft/clock", headers=AUTH).json()["now"] == 1_750_032_000

    failing = create_job(web)
    post_form(
        web,
        f"/dashboard/jobs/{failing['id']}/actions",
        {"action": "fail", "code": "oops", "message": "It broke.", "at_step": "3"},
        page,
    )
    advance(web, 5_000)
    failed = api(web, f"/fine_tuning/jobs/{failing['id']}")
    assert failed["status"] == "failed" and failed["error"]["code"] == "oops"
    steps = [e["data"]["step"] for e in all_events(web, failing["id"]) if e["type"] == "metrics"]
    assert max(steps) == 3

    finishing = create_job(web)
    post_form(web, f"/dashboard/jobs/{finishing['id']}/actions", {"action": "complete"}, page)
    assert api(web, f"/fine_tuning/jobs/{finishing['id']}")["status"] == "succeeded"


def test_operator_chaos_rules_and_reset(web: TestClient) -> None:
    page = "/dashboard/operator"
    added = post_form(
        web, "/dashboard/operator/chaos", {"path": "*", "fault": "status", "status": "503"}, page
    )
    assert added.status_code == 303
    rules = web.get("/mockft/chaos", headers=AUTH).json()["data"]
    assert [(r["path"], r["status"]) for r in rules] == [("*", 503)]
    assert web.get("/v1/models", headers=AUTH).status_code == 503
    operator = Page(web.get(page).text)  # a rule on "*" leaves the dashboard alone
    assert operator.one("tr", data_rule=rules[0]["id"])
    post_form(web, f"/dashboard/operator/chaos/{rules[0]['id']}/remove", {}, page)
    assert web.get("/mockft/chaos", headers=AUTH).json()["data"] == []
    bad = post_form(web, "/dashboard/operator/chaos", {"fault": "status", "status": "418"}, page)
    assert "418" in Page(web.get(bad.headers["location"]).text).one("p", role="alert").text

    create_job(web)
    web.delete("/mockft/requests", headers=AUTH)
    web.get("/dashboard/")
    web.get("/dashboard/jobs/x", headers={"X-Dashboard-Fragment": "1"})
    web.get("/v1/files", headers=AUTH)
    logged = [r["path"] for r in web.get("/mockft/requests", headers=AUTH).json()["data"]]
    assert logged == ["/v1/files"]  # the dashboard's own requests are not the API's

    unconfirmed = post_form(web, "/dashboard/operator/reset", {}, page)
    assert unconfirmed.status_code == 303
    assert api(web, "/fine_tuning/jobs")["data"]
    post_form(web, "/dashboard/operator/reset", {"confirm": "yes"}, page)
    assert api(web, "/fine_tuning/jobs")["data"] == []


def test_the_serve_banner_prints_the_dashboard_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    served: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.append(options))
    assert cli.main(["serve", "--memory", "--port", "8123", "--host", "127.0.0.2"]) == 0
    assert served and served[0]["port"] == 8123
    assert "Dashboard: http://127.0.0.2:8123/dashboard/" in capsys.readouterr().out.splitlines()
