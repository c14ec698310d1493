"""The operator's actions: the control backend's calls (`service/control.py`), as the
control API makes them, with the values a form sends and the viewer as the caller. Each
returns the sentence the page shows; a refusal is the service's own APIError, with its
wording.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone

from mockft import errors, lifecycle
from mockft.auth import Caller, Organization
from mockft.schemas import parse
from mockft.service import FailJob, Service
from mockft.service.chaos import ChaosRule

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
    def __init__(self, service: Service, caller: Caller) -> None:
        self.service = service
        self.control = service.control
        self.caller = caller

    # -- the clock ------------------------------------------------------------------------

    def advance(self, seconds: str) -> str:
        value = _number(seconds, "seconds")
        self.control.advance(self.caller, value)
        return f"Clock advanced by {value:g} s."

    def set_clock(self, when: str) -> str:
        self.control.set_clock(self.caller, now=_instant(when))
        return f"Clock set to {when.strip()}."

    def set_speed(self, speed: str) -> str:
        value = _number(speed, "speed")
        self.control.set_clock(self.caller, speed=value)
        return f"Clock speed set to x{value:g}."

    # -- jobs -----------------------------------------------------------------------------

    def intervene(self, org: Organization, job_id: str, kind: str) -> str:
        if kind not in INTERVENTIONS:
            raise errors.invalid_value("action", kind, sorted(INTERVENTIONS))
        if kind == lifecycle.COMPLETE:
            self.control.complete_job(self.caller, job_id)
        elif kind == lifecycle.HOLD:
            self.control.hold_job(self.caller, job_id)
        elif kind == lifecycle.RELEASE:
            self.control.release_job(self.caller, job_id)
        else:  # cancel, pause, resume: the API's own, on the viewer's organization's job
            self.service.jobs.intervene(org, job_id, kind)
        return f"Job {job_id} {INTERVENTIONS[kind]}."

    def fail(self, org: Organization, job_id: str, form: Mapping[str, str]) -> str:
        code = form.get("code", "").strip() or lifecycle.DEFAULT_FAILURE_CODE
        message = form.get("message", "").strip() or lifecycle.DEFAULT_FAILURE_MESSAGE
        raw_step = form.get("at_step", "").strip()
        given: dict[str, object] = {"code": code, "message": message}
        if raw_step:
            given["at_step"] = _integer(raw_step, "at_step")
        failure = parse(FailJob, given)
        self.control.fail_job(self.caller, job_id, failure)
        if failure.at_step is not None:
            return f"Job {job_id} will fail at the end of step {failure.at_step}."
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
        added = self.control.add_chaos(self.caller, rule)
        return f"Chaos rule {added.id} added."

    def rules(self) -> list[ChaosRule]:
        return self.control.chaos_rules(self.caller)

    def remove_chaos(self, rule_id: str) -> str:
        self.control.remove_chaos(self.caller, rule_id)
        return f"Chaos rule {rule_id} removed."

    def clear_chaos(self) -> str:
        return f"{self.control.clear_chaos(self.caller)} chaos rule(s) removed."

    # -- reset ----------------------------------------------------------------------------

    def reset(self) -> str:
        """As `POST /mockft/reset`: no objects, no chaos rules, an empty request log."""
        self.control.reset(self.caller)
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
