"""What both fixtures' handles share: the clock, jobs, chaos, the request log and reset of
one app, driven from the test's thread through the service's control backend (the same
functions the control API calls), with authority over every organization."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mockft.pytest_plugin.options import DEFAULT_API_KEY, MockFTOptions
from mockft.pytest_plugin.webhooks import WebhooksHandle

if TYPE_CHECKING:
    from openai.types.fine_tuning import FineTuningJob
    from starlette.applications import Starlette

    from mockft.auth import Caller
    from mockft.config import Settings
    from mockft.job_record import JobView
    from mockft.service import Service
    from mockft.service.chaos import Chaos, ChaosRule
    from mockft.service.control import Control
    from mockft.service.request_log import LoggedRequest, RequestLog

# run_until_done: how far the manual clock moves per look while a job validates (the end
# of validation is not announced in advance), and a bound on the looks.
VALIDATION_STEP_SECONDS = 1
MAX_ROUNDS = 100_000
# run_until_done under the system clock: real seconds between looks, and how long to wait.
POLL_SECONDS = 0.01
DEFAULT_WAIT_SECONDS = 60.0


class MockFTError(Exception):
    """A handle operation that cannot be done (e.g. waiting on a paused job)."""


class MockFTControls:
    app: Starlette
    service: Service
    options: MockFTOptions
    api_key: str = DEFAULT_API_KEY
    base_url: str

    @property
    def settings(self) -> Settings:
        return self.service.settings

    @property
    def control(self) -> Control:
        return self.service.control

    @property
    def _caller(self) -> Caller:
        return self.service.keys.root()

    # clock

    def now(self) -> float:
        return self.service.clock.now()

    def advance(self, seconds: float) -> float:
        """Move the manual clock forward, delivering the webhooks that became due; returns
        the new now."""
        now = float(self.control.advance(self._caller, seconds)["now"])
        self.service.delivery.deliver_now()
        return now

    # webhooks

    @property
    def webhooks(self) -> WebhooksHandle:
        """The in-process webhook receiver (`received`, `secret`, `fail_next`) and the
        deliveries; see `mockft.pytest_plugin.webhooks`."""
        handle: WebhooksHandle | None = getattr(self, "_webhooks_handle", None)
        if handle is None:
            handle = self._webhooks_handle = WebhooksHandle(self)
        return handle

    # jobs

    def job(self, job_id: str) -> FineTuningJob:
        """The job as the SDK would return it, whichever organization owns it."""
        return _sdk_job(self._job_view(job_id))

    def _job_view(self, job_id: str) -> dict[str, Any]:
        from mockft.wire import jobs as wire

        return wire.job(self.control.job(self._caller, job_id))

    def run_until_done(
        self, job_id: str, *, timeout: float = DEFAULT_WAIT_SECONDS
    ) -> FineTuningJob:
        """Let the job run to its end and return it (succeeded, failed or cancelled).

        With the manual clock, the clock moves to the instant the job ends: to the earliest
        instant validation can end, then straight to the end the job's timeline plans (the
        API's `estimated_finish` is null, as on the real service). With the system clock,
        waits (at most `timeout` real seconds)."""
        from mockft import lifecycle

        if self.service.clock.mode != "manual":
            return self._wait_until_done(job_id, timeout)
        for _ in range(MAX_ROUNDS):
            job = self._job_view(job_id)
            status = job["status"]
            if lifecycle.is_terminal(status):
                return _sdk_job(job)
            if status == lifecycle.PAUSED:
                raise MockFTError(f"Job {job_id} is paused: resume it before running it on.")
            now = self.now()
            end = self.control.expected_end(self._caller, job_id)
            if end is None and status == lifecycle.VALIDATING_FILES:
                # Validation never ends sooner than its base duration after creation.
                end = job["created_at"] + int(lifecycle.VALIDATION_BASE_SECONDS)
            target = end or now
            self.advance(max(target - now, VALIDATION_STEP_SECONDS))
        raise MockFTError(f"Job {job_id} did not finish within {MAX_ROUNDS} clock moves.")

    def _wait_until_done(self, job_id: str, timeout: float) -> FineTuningJob:
        from mockft import lifecycle

        deadline = time.monotonic() + timeout
        while True:
            job = self._job_view(job_id)
            status = job["status"]
            if lifecycle.is_terminal(status):
                return _sdk_job(job)
            if status == lifecycle.PAUSED:
                raise MockFTError(f"Job {job_id} is paused: resume it before waiting for it.")
            if time.monotonic() > deadline:
                raise MockFTError(f"Job {job_id} is still {status} after {timeout:g} s.")
            time.sleep(POLL_SECONDS)

    def fail_job(
        self,
        job_id: str,
        code: str | None = None,
        message: str | None = None,
        param: str | None = None,
        *,
        at_step: int | None = None,
        in_state: str | None = None,
    ) -> FineTuningJob:
        """The job fails with this error (default: the service's internal error): now, or
        when step `at_step` ends, or when it enters `in_state` ("queued", "running")."""
        from mockft.schemas import parse
        from mockft.service import FailJob

        given = {"code": code, "message": message, "param": param, "at_step": at_step}
        given["in_state"] = in_state
        failure = parse(FailJob, {k: v for k, v in given.items() if v is not None})
        job = _sdk_job(self.control.fail_job(self._caller, job_id, failure))
        self.service.delivery.deliver_now()
        return job

    def hold_job(self, job_id: str) -> FineTuningJob:
        """Freeze the job in its state (validating, queued, running) until `release_job`."""
        return _sdk_job(self.control.hold_job(self._caller, job_id))

    def release_job(self, job_id: str) -> FineTuningJob:
        return _sdk_job(self.control.release_job(self._caller, job_id))

    def complete_job(self, job_id: str) -> FineTuningJob:
        """The job succeeds now, producing everything a success produces."""
        job = _sdk_job(self.control.complete_job(self._caller, job_id))
        self.service.delivery.deliver_now()
        return job

    # chaos and the request log

    @property
    def chaos_rules(self) -> Chaos:
        return self.control.chaos

    def chaos(self, **rule: Any) -> ChaosRule:
        """Add a fault-injection rule; the keywords are those of `POST /mockft/chaos`
        (path, path_regex, method, times, probability, seed, status, message, retry_after,
        retry_after_ms, should_retry, latency_ms, drop, timeout, hold_seconds)."""
        return self.control.add_chaos(self._caller, rule)

    def clear_chaos(self) -> int:
        return self.control.clear_chaos(self._caller)

    @property
    def request_log(self) -> RequestLog:
        return self.control.requests

    @property
    def requests(self) -> list[LoggedRequest]:
        """Every request outside the control API so far, oldest first: method, path,
        status (None when no response was sent), whether chaos answered it."""
        return self.control.logged_requests(self._caller)

    def clear_requests(self) -> int:
        return self.control.clear_requests(self._caller)

    # scenarios

    def load_scenario(self, scenario: str | Path) -> dict[str, Any]:
        """Load a scenario into the running app (`POST /mockft/scenario`): a `Path` to a
        file, or TOML text. Returns what it made; a scenario with a problem raises
        `ScenarioInvalid` (every problem as file:line: message) and changes nothing."""
        scenarios = self.service.scenarios
        if isinstance(scenario, Path):
            return scenarios.load_files([scenario]).to_dict()
        return scenarios.load_text(scenario, "scenario.toml", "toml").to_dict()

    def export_scenario(self) -> str:
        """The app's state as a scenario (TOML) that loads back to the same answers."""
        from mockft.scenario.export import export_toml

        return export_toml(self.service)

    def reset(self) -> None:
        """Back to a fresh app: no objects, no chaos rules, an empty request log, and a
        manual clock at its start time (so ids and timestamps repeat exactly: the app keeps
        nothing on disk that could remember a later instant); then the marker's scenario
        again."""
        restart = self.options.start_time if self.service.clock.mode == "manual" else None
        self.control.reset(self._caller, restart_clock_at=restart)


def _sdk_job(view: dict[str, Any] | JobView) -> FineTuningJob:
    from openai.types.fine_tuning import FineTuningJob

    from mockft.wire import jobs as wire

    body = view if isinstance(view, dict) else wire.job(view)
    # construct(): lenient like the SDK's own parsing (e.g. status "paused").
    return FineTuningJob.construct(**body)
