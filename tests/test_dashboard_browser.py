"""The dashboard in a real headless Chromium (the system's, driven by Playwright), with every
request to another host blocked: a job made through the SDK shows on its page as the API
shows it, updates as the clock moves without a reload, and nothing logs an error.

Screenshots of the jobs list and a job page, at desktop and phone widths, go to
`.artifacts/`. Where Chromium is missing the test is skipped, except under CI (`CI` set),
where .ci/run installs it and a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import API_KEY, FIXTURES, Server, live_server, make_settings

CHROMIUM = Path(os.environ.get("MOCKFT_CHROMIUM", "/usr/bin/chromium"))
# Headless, and quiet: no sandbox (CI runs as root), no GPU, nothing fetched by Chromium
# itself (updates, sync, QUIC probes).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / ".artifacts"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
LIVE_UPDATE_MS = 10_000
AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        message = f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message + "; .ci/run installs it, so CI must have it")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Tab:
    page: Any
    errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)


@pytest.fixture
def tabs(browser: Any, server: Server) -> Iterator[Any]:
    """Opens pages of the dashboard at a viewport size; requests anywhere but the server
    are aborted and recorded, console errors and uncaught exceptions are recorded."""
    contexts: list[Any] = []
    origin = server.root_url

    def open_tab(viewport: dict[str, int]) -> Tab:
        context = browser.new_context(viewport=viewport)
        contexts.append(context)
        tab = Tab(context.new_page())

        def only_the_server(route: Any) -> None:
            url = route.request.url
            if url == origin or url.startswith(origin + "/"):
                route.continue_()
            else:
                tab.blocked.append(url)
                route.abort()

        context.route("**/*", only_the_server)
        tab.page.on(
            "console",
            lambda message: tab.errors.append(message.text) if message.type == "error" else None,
        )
        tab.page.on("pageerror", lambda error: tab.errors.append(str(error)))
        return tab

    yield open_tab
    for context in contexts:
        context.close()


def api_state(client: openai.OpenAI, job_id: str) -> tuple[Any, list[Any], list[Any]]:
    job = client.fine_tuning.jobs.retrieve(job_id)
    events = list(client.fine_tuning.jobs.list_events(job_id, limit=1000).data)
    checkpoints = list(client.fine_tuning.jobs.checkpoints.list(job_id, limit=100).data)
    return job, events, checkpoints


def shown_state(page: Any) -> dict[str, Any]:
    return dict(
        page.evaluate(
            """() => {
              const all = (selector, read) => Array.from(document.querySelectorAll(selector), read);
              const loss = document.querySelector('polyline[data-series="train_loss"]');
              const progress = document.querySelector('#job-progress .progress');
              return {
                status: document.querySelector('.title-row [data-status]').dataset.status,
                step: progress ? Number(progress.dataset.step) : null,
                total: progress ? Number(progress.dataset.total) : null,
                checkpoints: all('tr[data-checkpoint]', (row) => row.dataset.checkpoint),
                checkpointModels: all(
                  'tr[data-checkpoint] button[data-copy]', (button) => button.dataset.copy),
                events: all('tr[data-event]', (row) => row.dataset.event),
                messages: all('tr[data-event] td:last-child', (cell) => cell.textContent.trim()),
                lossPoints: loss ? loss.getAttribute('points').trim().split(/\\s+/).length : 0,
              };
            }"""
        )
    )


@pytest.mark.live  # a real browser, on a real socket
def test_job_page_in_chromium_matches_the_api(
    tabs: Any, server: Server, client: openai.OpenAI
) -> None:
    training, validation = (
        client.files.create(file=(name, (FIXTURES / name).read_bytes()), purpose="fine-tune")
        for name in ("train_chat.jsonl", "valid_chat.jsonl")
    )
    job = client.fine_tuning.jobs.create(
        model="gpt-4o-mini",
        training_file=training.id,
        validation_file=validation.id,
        suffix="browser",
        metadata={"suite": "dashboard"},
    )
    while not [e for e in api_state(client, job.id)[1] if e.type == "metrics"]:
        server.advance(30)  # into training: some steps done, the job still running
    assert client.fine_tuning.jobs.retrieve(job.id).status == "running"

    desk = tabs(DESKTOP)
    page = desk.page
    page.goto(f"{server.root_url}/dashboard/jobs/{job.id}")
    running_job, running_events, _ = api_state(client, job.id)
    shown = shown_state(page)
    newest_metrics = next(e for e in running_events if e.type == "metrics")
    assert shown["status"] == running_job.status == "running"
    assert (shown["step"], shown["total"]) == (
        newest_metrics.data["step"],
        newest_metrics.data["total_steps"],
    )
    assert shown["events"] == [e.id for e in running_events[:25]]

    # The clock moves; the page follows by itself (no reload: the marker survives).
    page.evaluate("window.__noReload = true")
    server.advance(10_000)
    page.wait_for_selector(".title-row [data-status='succeeded']", timeout=LIVE_UPDATE_MS)
    assert page.evaluate("window.__noReload === true")

    final_job, events, checkpoints = api_state(client, job.id)
    shown = shown_state(page)
    metrics = [e for e in events if e.type == "metrics"]
    total = metrics[0].data["total_steps"]
    assert shown["status"] == final_job.status == "succeeded"
    assert (shown["step"], shown["total"]) == (total, total)
    assert shown["checkpoints"] == [c.id for c in checkpoints]
    assert shown["checkpointModels"] == [c.fine_tuned_model_checkpoint for c in checkpoints]
    assert shown["events"] == [e.id for e in events[:25]]
    assert shown["messages"] == [e.message for e in events[:25]]
    assert shown["lossPoints"] == total == len(metrics)  # one point per step

    page.keyboard.press("Tab")  # the keyboard's first stop skips to the content
    assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to content"

    # A form in a real browser passes the CSRF and origin checks and reaches the service.
    page.goto(f"{server.root_url}/dashboard/operator")
    before = httpx.get(f"{server.root_url}/mockft/clock", headers=AUTH).json()["now"]
    page.click("button[name='seconds'][value='60']")
    assert page.locator("p[role='status']").inner_text() == "Clock advanced by 60 s."
    assert httpx.get(f"{server.root_url}/mockft/clock", headers=AUTH).json()["now"] == before + 60
    page.goto(f"{server.root_url}/dashboard/jobs/{job.id}")

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-job-desktop.png"), full_page=True)
    page.goto(f"{server.root_url}/dashboard/")
    row = page.locator(f"tr[data-job='{job.id}']")
    assert row.locator("[data-status]").get_attribute("data-status") == "succeeded"
    assert f"step {total}/{total}" in row.inner_text()
    page.screenshot(path=str(ARTIFACTS / "dashboard-jobs-desktop.png"), full_page=True)

    phone = tabs(PHONE)
    phone.page.goto(f"{server.root_url}/dashboard/")
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.page.screenshot(path=str(ARTIFACTS / "dashboard-jobs-phone.png"), full_page=True)
    phone.page.goto(f"{server.root_url}/dashboard/jobs/{job.id}")
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.page.screenshot(path=str(ARTIFACTS / "dashboard-job-phone.png"), full_page=True)

    for tab in (desk, phone):
        assert tab.errors == []
        assert tab.blocked == []  # nothing even tried to leave the host


def test_a_wrong_key_at_sign_in_is_answered_without_a_console_error(
    browser: Any, tmp_path: Path
) -> None:
    """The sign-in form answers a wrong key with itself and the refusal, announced to a
    screen reader (the title, an alert), not with an error status Chromium would log."""
    with live_server(make_settings(tmp_path, api_keys=(API_KEY,))) as keyed:
        context = browser.new_context(viewport=DESKTOP)
        try:
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{keyed.root_url}/dashboard/")
            assert page.url.startswith(f"{keyed.root_url}/dashboard/login")
            page.fill("#key", "sk-wrong-key-000000")
            page.click("button[type='submit']")
            alert = page.locator("p[role='alert']")
            assert "Incorrect API key provided" in alert.inner_text()
            assert page.title().startswith("Error: ")
            assert page.get_attribute("#key", "aria-invalid") == "true"
            page.fill("#key", API_KEY)
            page.click("button[type='submit']")
            page.wait_for_url(f"{keyed.root_url}/dashboard/")
            assert errors == []
        finally:
            context.close()
