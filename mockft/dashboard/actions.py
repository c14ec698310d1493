"""The operator's actions: the same service calls the control API (`routes/control.py`)
makes, with the values a form sends. Each returns the sentence the page shows; a refusal
is the service's own APIError, with its wording.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone

from mockft import errors, lifecycle
from mockft.auth import Organization
from mockft.chaos import Chaos, ChaosSpec, RequestLog
from mockft.schemas import parse
from mockft.service import Service
from mockft.service.jobs import FailurePoint

INTERVENTIONS = {
    lifecycle.CANCEL: "cancelled",
    lifecycle.PAUSE: "paused",
    lifecycle.RESUME: "resumed",
    lifecycle.COMPLETE: "completed",
    lifecycle.HOLD: "held",
    lifecycle.RELEASE: "released",
}
CHAOS_FAULTS = ("status", "latency", "drop", "timeout")
CHAOS_STATUSES = (429, 500, 502, 503, 504)


class Operator:
    def __init__(self, service: Service, chaos: Chaos, requests: RequestLog) -> None:
        self.service = service
        self.chaos = chaos
        self.requests = requests

    # -- the clock ------------------------------------------------------------------------

    def advance(self, seconds: str) -> str:
        value = _number(seconds, "seconds")
        self.service.clock.advance(value)
        return f"Clock advanced by {value:g} s."

    def set_clock(self, when: str) -> str:
        self.service.clock.set(_instant(when))
        return f"Clock set to {when.strip()}."

    def set_speed(self, speed: str) -> str:
        value = _number(speed, "speed")
        self.service.clock.set_speed(value)
        return f"Clock speed set to x{value:g}."

    # -- jobs -----------------------------------------------------------------------------

    def intervene(self, org: Organization, job_id: str, kind: str) -> str:
        if kind not in INTERVENTIONS:
            raise errors.invalid_value("action", kind, sorted(INTERVENTIONS))
        self.service.jobs.intervene(org, job_id, kind)
        return f"Job {job_id} {INTERVENTIONS[kind]}."

    def fail(self, org: Organization, job_id: str, form: Mapping[str, str]) -> str:
        code = form.get("code", "").strip() or lifecycle.DEFAULT_FAILURE_CODE
        message = form.get("message", "").strip() or lifecycle.DEFAULT_FAILURE_MESSAGE
        raw_step = form.get("at_step", "").strip()
        when = FailurePoint(step=_integer(raw_step, "at_step")) if raw_step else None
        error = lifecycle.JobError(code=code, message=message)
        self.service.jobs.intervene(org, job_id, lifecycle.FAIL, error, when)
        if when is not None:
            return f"Job {job_id} will fail at the end of step {when.step}."
        return f"Job {job_id} failed with {code}."

    # -- chaos ----------------------------------------------------------------------------

    def add_chaos(self, form: Mapping[str, str]) -> str:
        rule: dict[str, object] = {}
        if form.get("path", "").strip():
            rule["path"] = form["path"].strip()
        if form.get("method", "").strip():
            rule["method"] = form["method"].strip()
        fault = form.get("fault", "status")
        if fault == "status":
            rule["status"] = _integer(form.get("status", ""), "status")
        elif fault == "latency":
            rule["latency_ms"] = _integer(form.get("latency_ms", ""), "latency_ms")
        elif fault in ("drop", "timeout"):
            rule[fault] = True
        else:
            raise errors.invalid_value("fault", fault, list(CHAOS_FAULTS))
        if form.get("times", "").strip():
            rule["times"] = _integer(form["times"], "times")
        if form.get("probability", "").strip():
            rule["probability"] = _number(form["probability"], "probability")
        added = self.chaos.add(parse(ChaosSpec, rule))
        return f"Chaos rule {added.id} added."

    def remove_chaos(self, rule_id: str) -> str:
        if not self.chaos.remove(rule_id):
            raise errors.APIError(404, f"No such chaos rule: {rule_id}", param="rule_id")
        return f"Chaos rule {rule_id} removed."

    def clear_chaos(self) -> str:
        return f"{self.chaos.clear()} chaos rule(s) removed."

    # -- reset ----------------------------------------------------------------------------

    def reset(self) -> str:
        """As `POST /mockft/reset`: no objects, no chaos rules, an empty request log."""
        self.service.reset()
        self.chaos.clear()
        self.requests.clear()
        return "Everything stored was deleted."


def _number(raw: str, name: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise errors.invalid_type(name, "a number", "a string") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise errors.invalid_type(name, "a finite number", "a string")
    return value


def _integer(raw: str, name: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise errors.invalid_type(name, "an integer", "a string") from None


def _instant(raw: str) -> float:
    """Unix seconds, or a date and time (UTC) as a datetime-local field sends it."""
    text = raw.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise errors.invalid(
            f"{text!r} is not unix seconds nor a date and time (YYYY-MM-DDTHH:MM:SS).", "now"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()
