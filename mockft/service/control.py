"""The control plane's one backend: the clock, reset, job interventions, chaos rules and the
request log. The HTTP control API (`routes/control.py`), the pytest handle and the CLI
(`mockft reset`) all call these functions, with the `Caller` that asks.

A caller with control (a control key; the pytest handle and the CLI; any key of a private
one-organization server) acts on every organization and may move the shared clock. Any
other caller acts on its own organization only: it resets that organization's objects,
rules and log entries, sees and removes only its own rules (which only hit its own
requests) and log entries, and intervenes only in its own jobs (another organization's
job is as unknown to it as on /v1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from mockft import errors, lifecycle
from mockft.auth import ORG_PREFIX, Caller, Organization
from mockft.config import MAX_JOB_LIMIT
from mockft.job_record import JobView
from mockft.pagination import PageRequest
from mockft.schemas import Request, parse
from mockft.service.chaos import RULE_OBJECT, Chaos, ChaosRule, ChaosSpec
from mockft.service.files import FILE
from mockft.service.jobs import FAILURE_STATES, JOB, FailurePoint
from mockft.service.request_log import LoggedRequest, RequestLog
from mockft.service.uploads import PART
from mockft.service.wandb_keys import WandbKey
from mockft.service.webhooks import Endpoint, EndpointSpec
from mockft.wire import webhooks as wire_webhooks

if TYPE_CHECKING:
    from mockft.service import Service

MAX_ERROR_CODE_LENGTH = 256
MAX_ERROR_MESSAGE_LENGTH = 4_096
MAX_STEP = 2**31 - 1


class FailJob(Request):
    """How a job fails: `POST /mockft/jobs/{id}/fail` and the pytest handle's `fail_job`."""

    code: Annotated[str, Field(max_length=MAX_ERROR_CODE_LENGTH)] = lifecycle.DEFAULT_FAILURE_CODE
    message: Annotated[str, Field(max_length=MAX_ERROR_MESSAGE_LENGTH)] = (
        lifecycle.DEFAULT_FAILURE_MESSAGE
    )
    param: Annotated[str, Field(max_length=MAX_ERROR_CODE_LENGTH)] | None = None
    at_step: Annotated[int, Field(ge=1, le=MAX_STEP)] | None = None
    """The end of step N."""
    in_state: Annotated[str, Field(max_length=max(len(s) for s in FAILURE_STATES))] | None = None
    """On entering "queued" or "running" (or now, in "validating_files")."""

    def failure_point(self) -> FailurePoint | None:
        if self.at_step is not None and self.in_state is not None:
            raise errors.invalid("Give at_step or in_state, not both.", "at_step")
        if self.at_step is None and self.in_state is None:
            return None
        return FailurePoint(step=self.at_step, state=self.in_state)


MAX_WANDB_KEY_LENGTH = 1_024
MAX_ORGANIZATION_LENGTH = 256


class RegisterWandbKey(Request):
    """`POST /mockft/wandb`: W&B credentials for an organization (the caller's by default;
    a control key may name another, by name or id)."""

    api_key: Annotated[str, Field(min_length=1, max_length=MAX_WANDB_KEY_LENGTH)]
    organization: Annotated[str, Field(min_length=1, max_length=MAX_ORGANIZATION_LENGTH)] | None = (
        None
    )


class SetLimits(Request):
    """`POST /mockft/limits`: the limits from now on; a name given as null lifts its limit,
    one not given keeps its value."""

    max_jobs_per_day: Annotated[int, Field(ge=1, le=MAX_JOB_LIMIT)] | None = None
    max_running_jobs: Annotated[int, Field(ge=1, le=MAX_JOB_LIMIT)] | None = None

    def changes(self) -> dict[str, int | None]:
        return {name: getattr(self, name) for name in self.model_fields_set}


def control_required(what: str) -> errors.APIError:
    return errors.APIError(
        403,
        f"Only a control key may {what}: the server has several organizations (start it "
        "with --control-key KEY and use that key).",
        code="control_key_required",
    )


def webhook_not_found(endpoint_id: str) -> errors.APIError:
    return errors.APIError(
        404, f"No such webhook endpoint: {errors.excerpt(endpoint_id)}", param="endpoint_id"
    )


def invalid_scenario(problems: str) -> errors.APIError:
    return errors.APIError(400, problems, code="invalid_scenario")


def rule_not_found(rule_id: str) -> errors.APIError:
    return errors.APIError(404, f"No such chaos rule: {errors.excerpt(rule_id)}", param="rule_id")


class Control:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.chaos = Chaos(seed=service.settings.seed)
        self.requests = RequestLog()

    # -- the clock (shared by every organization) -----------------------------------------

    def clock(self, caller: Caller) -> dict[str, Any]:
        return self.service.clock.state()

    def advance(self, caller: Caller, seconds: float) -> dict[str, Any]:
        self._require_control(caller, "move the clock")
        self.service.clock.advance(seconds)
        self.service.delivery.wake()
        return self.service.clock.state()

    def set_clock(
        self, caller: Caller, *, now: float | None = None, speed: float | None = None
    ) -> dict[str, Any]:
        self._require_control(caller, "move the clock")
        if now is not None:
            self.service.clock.set(now)
        if speed is not None:
            self.service.clock.set_speed(speed)
        self.service.delivery.wake()
        return self.service.clock.state()

    # -- reset ----------------------------------------------------------------------------

    def reset(self, caller: Caller, *, restart_clock_at: float | None = None) -> None:
        """Back to a fresh server (every organization), or a fresh organization: no
        objects, no file bytes, no chaos rules, an empty request log. The clock keeps its
        time (virtual time never goes back for a data dir), except that the pytest
        fixtures' in-memory app may restart it (`restart_clock_at`)."""
        service = self.service
        scope = caller.scope
        if scope is None:
            service.jobs.clear()  # work in flight for ids that are about to be reused
            service.store.clear()
            service.blobs.clear()
        else:
            now = service.ctx.now()
            # the bytes of its Files and Upload parts, and what its jobs' models learned
            kinds = (FILE, PART, JOB)
            owned = [d["id"] for kind in kinds for d in service.store.scan(kind, scope, now)]
            service.store.clear(scope)
            for key in owned:  # the bytes are freed on a disk thread
                service.blobs.discard(key)
        service.inference.clear()
        service.limits.reset(scope)
        self.chaos.clear(scope)
        self.requests.clear(scope)
        if restart_clock_at is not None:
            if not service.settings.memory:
                raise ValueError("only an in-memory app may restart its clock")
            service.clock.restart(restart_clock_at)
        service.webhooks.reset()  # the configured endpoints again, as of the clock's now
        service.delivery.wake()
        service.scenarios.after_reset(scope)  # the scenario the server started with

    # -- jobs -----------------------------------------------------------------------------

    def job(self, caller: Caller, job_id: str) -> JobView:
        return self.service.jobs.get(self._job_org(caller, job_id), job_id)

    def expected_end(self, caller: Caller, job_id: str) -> int | None:
        """When the job will end by itself (None: it has ended, or is held or paused)."""
        return self.service.jobs.expected_end(self._job_org(caller, job_id), job_id)

    def complete_job(self, caller: Caller, job_id: str) -> JobView:
        """The job succeeds now, producing everything a success produces."""
        return self._intervene(caller, job_id, lifecycle.COMPLETE)

    def hold_job(self, caller: Caller, job_id: str) -> JobView:
        """Freeze the job in its state (validating, queued, running) until released."""
        return self._intervene(caller, job_id, lifecycle.HOLD)

    def release_job(self, caller: Caller, job_id: str) -> JobView:
        return self._intervene(caller, job_id, lifecycle.RELEASE)

    def _intervene(self, caller: Caller, job_id: str, kind: str) -> JobView:
        return self.service.jobs.intervene(self._job_org(caller, job_id), job_id, kind)

    def fail_job(self, caller: Caller, job_id: str, failure: FailJob) -> JobView:
        when = failure.failure_point()
        org = self._job_org(caller, job_id)
        error = lifecycle.JobError(code=failure.code, message=failure.message, param=failure.param)
        return self.service.jobs.intervene(org, job_id, lifecycle.FAIL, error, when)

    def _job_org(self, caller: Caller, job_id: str) -> Organization:
        org, _ = self.service.jobs.find(job_id)
        if not caller.sees(org.id):
            raise errors.job_not_found(job_id)
        return org

    # -- W&B credentials and limits --------------------------------------------------------

    def wandb_keys(self, caller: Caller) -> list[WandbKey]:
        return self.service.wandb_keys.listed(caller.scope)

    def register_wandb_key(self, caller: Caller, body: RegisterWandbKey) -> WandbKey:
        org = self._org_named(caller, body.organization)
        return self.service.wandb_keys.register(org, body.api_key)

    def remove_wandb_key(self, caller: Caller, organization: str | None) -> dict[str, Any]:
        org = self._org_named(caller, organization)
        deleted = self.service.wandb_keys.remove(org)
        return {"object": "mockft.wandb_key", "organization_id": org.id, "deleted": deleted}

    def limits(self, caller: Caller) -> dict[str, Any]:
        return self.service.limits.state()

    def set_limits(self, caller: Caller, body: SetLimits) -> dict[str, Any]:
        self._require_control(caller, "change the limits")
        limits = self.service.limits.set(**body.changes())
        self.service.jobs.limits_changed()  # waiting jobs' ends, looked at again
        return limits

    def _org_named(self, caller: Caller, name: str | None) -> Organization:
        """The organization a request names (by name, or by id), the caller's by default;
        only a control key names another."""
        if name is None:
            return caller.org
        keys = self.service.keys
        org = keys.organization(name) if name.startswith(ORG_PREFIX) else Organization.named(name)
        if org.id != caller.org.id and not caller.control:
            raise control_required("act for another organization")
        return org

    # -- chaos ----------------------------------------------------------------------------

    def add_chaos(self, caller: Caller, rule: ChaosSpec | dict[str, Any]) -> ChaosRule:
        spec = rule if isinstance(rule, ChaosSpec) else parse(ChaosSpec, rule)
        return self.chaos.add(spec, caller.scope)

    def chaos_rules(self, caller: Caller) -> list[ChaosRule]:
        return self.chaos.rules(caller.scope)

    def remove_chaos(self, caller: Caller, rule_id: str) -> dict[str, Any]:
        if not self.chaos.remove(rule_id, caller.scope):
            raise rule_not_found(rule_id)
        return {"object": RULE_OBJECT, "id": rule_id, "deleted": True}

    def clear_chaos(self, caller: Caller) -> int:
        return self.chaos.clear(caller.scope)

    # -- webhooks -------------------------------------------------------------------------

    def add_webhook(self, caller: Caller, spec: EndpointSpec | dict[str, Any]) -> Endpoint:
        """An endpoint for every organization's jobs (an ordinary key's: its own only)."""
        endpoint = self.service.webhooks.add(
            caller, spec if isinstance(spec, EndpointSpec) else parse(EndpointSpec, spec)
        )
        self.service.delivery.ensure_running()
        return endpoint

    def webhooks(self, caller: Caller) -> list[Endpoint]:
        return self.service.webhooks.endpoints(caller.scope)

    def remove_webhook(self, caller: Caller, endpoint_id: str) -> dict[str, Any]:
        if not self.service.webhooks.remove(caller, endpoint_id):
            raise webhook_not_found(endpoint_id)
        self.service.delivery.wake()  # the task ends with the last endpoint
        return wire_webhooks.deleted(endpoint_id)

    def clear_webhooks(self, caller: Caller) -> int:
        removed = self.service.webhooks.clear(caller)
        self.service.delivery.wake()
        return removed

    def webhook_deliveries(
        self, caller: Caller, page: PageRequest, job_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Deliveries (each with its attempts) of the events of the caller's jobs."""
        return self.service.webhooks.deliveries(caller.scope, page, job_id)

    # -- scenarios ------------------------------------------------------------------------

    def load_scenario(
        self, caller: Caller, text: str, *, fmt: str = "toml", source: str = "scenario.toml"
    ) -> dict[str, Any]:
        """Load a scenario (TOML, or JSON) into the running server: everything it says is
        checked first, and a scenario with a problem changes nothing (400, every problem
        as `source:line: message`)."""
        self._require_control(caller, "load a scenario")
        from mockft.scenario.loader import ScenarioInvalid  # the scenario uses the service

        try:
            summary = self.service.scenarios.load_text(text, source, fmt)
        except ScenarioInvalid as exc:
            raise invalid_scenario(exc.text()) from None
        return summary.to_dict()

    def export_scenario(self, caller: Caller) -> str:
        """The server's state as a scenario (TOML) that loads back to the same answers."""
        self._require_control(caller, "export the server's state")
        from mockft.scenario.export import export_toml

        return export_toml(self.service)

    # -- the request log ------------------------------------------------------------------

    def logged_requests(self, caller: Caller) -> list[LoggedRequest]:
        return self.requests.entries(caller.scope)

    def clear_requests(self, caller: Caller) -> int:
        return self.requests.clear(caller.scope)

    @staticmethod
    def _require_control(caller: Caller, what: str) -> None:
        if not caller.control:
            raise control_required(what)
