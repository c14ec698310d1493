"""A scenario file's shape: the pydantic models it is validated with, and the JSON Schema
editors get from them (`mockft scenario schema`).

Every table refuses keys it does not know (a typo is a problem, not a silent no-op), and
values keep their TOML types: a number where a string belongs is a problem, not a
conversion. What one field cannot say alone (a rule with two ends, a file with two
sources) is checked by the models' validators; what needs the whole scenario (a job's
training file among the scenario's files) by `mockft.scenario.checks`.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from mockft.catalog import Endpoint, FineTuningSpec, OwnedBy
from mockft.clock import MAX_INSTANT, MAX_SPEED
from mockft.config import MAX_JOB_LIMIT
from mockft.service.chaos import ChaosSpec

VERSION: Final = 1
MAX_SEED: Final = 2**63 - 1
MAX_JOB_SEED: Final = 2_147_483_647
MAX_STEP: Final = 2**31 - 1
# What validating a file at most 512 MB (the Files API's limit) can find: every example
# takes more than 50 bytes, every token at least one. Larger counts would plan a job of
# more steps than a server could ever reach.
MAX_EXAMPLES: Final = 10_000_000
MAX_TOKENS: Final = 512 * 1024 * 1024
MAX_TEXT: Final = 4_096
MAX_PATTERN: Final = 1_000
MAX_SCALE: Final = 1_000_000.0
# "90", "90s", "15m", "2h", "1d", "1h30m": seconds, or an amount of each unit in order.
_NUMBER: Final = r"(\d+(?:\.\d+)?)"
_DURATION: Final = re.compile(rf"^(?:{_NUMBER}d)?(?:{_NUMBER}h)?(?:{_NUMBER}m)?(?:{_NUMBER}s?)?$")
MAX_DURATION_TEXT: Final = 32
_UNIT_SECONDS: Final = (86_400, 3_600, 60, 1)
MAX_DURATION_SECONDS: Final = 366 * 86_400

JOB_STATUSES: Final = (
    "validating_files",
    "queued",
    "running",
    "paused",
    "succeeded",
    "failed",
    "cancelled",
)
JobStatus = Literal[
    "validating_files", "queued", "running", "paused", "succeeded", "failed", "cancelled"
]
PointState = Literal["validating_files", "queued", "running"]
Method = Literal["supervised", "dpo", "reinforcement"]
Purpose = Literal["assistants", "batch", "fine-tune", "vision", "user_data", "evals"]


class Table(BaseModel):
    """A table of the file: unknown keys are refused; TOML types are kept as they are."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# -- values ---------------------------------------------------------------------------------


def _instant(value: object) -> object:
    """A TOML date-time (with an offset, or UTC when it has none) as unix seconds."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        return int(moment.timestamp())
    return value


def _seconds(value: object) -> object:
    """A duration: a number of seconds, or text such as "90s", "15m", "2h", "1h30m", "2d"."""
    if isinstance(value, str):
        text = value.strip()
        match = _DURATION.match(text) if len(text) <= MAX_DURATION_TEXT else None
        if not text or match is None:
            raise ValueError(f'"{value}" is not a duration such as 90, "90s", "15m", "2h" or "1d"')
        return sum(float(n) * unit for n, unit in zip(match.groups(), _UNIT_SECONDS) if n)
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


Instant = Annotated[
    int,
    BeforeValidator(_instant),
    Field(ge=0, le=MAX_INSTANT),
    WithJsonSchema(
        {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "format": "date-time"}]}
    ),
]
Seconds = Annotated[float, Field(ge=0, le=MAX_DURATION_SECONDS)]
Text = Annotated[str, Field(max_length=MAX_TEXT)]
Pattern = Annotated[str, Field(min_length=1, max_length=MAX_PATTERN)]


def _range(value: object) -> object:
    """A fixed duration or `[low, high]`, as a pair."""
    if isinstance(value, list):
        return tuple(_seconds(v) for v in value)
    seconds = _seconds(value)
    return (seconds, seconds)


# -- the server ----------------------------------------------------------------------------


class ClockSpec(Table):
    """The clock a server starts with (a scenario loaded at run time moves a manual clock
    forward to `start` and sets a system clock's `speed`; the mode is chosen at start)."""

    mode: Literal["system", "manual"] | None = None
    speed: Annotated[float, Field(gt=0, le=MAX_SPEED)] | None = None
    start: Instant | None = Field(
        default=None, description="Where a new clock starts: a date-time or unix seconds."
    )


Key = Annotated[str, Field(min_length=1, max_length=256)]
# A project id as keys and checkpoint permissions name it (`proj_...` on the real API):
# what `--api-key KEY=org/PROJECT_ID` accepts after the slash.
ProjectId = Annotated[str, Field(pattern=r"^[^\s/=,]{1,256}$")]


def _plain_keys(keys: list[str]) -> list[str]:
    for key in keys:
        if key != key.strip() or "=" in key or "," in key:
            raise ValueError(f"a key has no spaces, '=' or ',' around or in it: {key!r}")
    return keys


class ProjectSpec(Table):
    """A project of the organization and its project keys (as `--api-key KEY=org/ID`)."""

    id: ProjectId
    keys: list[Key] = []
    """Project keys: a request with one acts in this project."""

    _keys = field_validator("keys")(_plain_keys)


class OrganizationSpec(Table):
    name: Annotated[str, Field(min_length=1, max_length=256)]
    keys: list[Key] = []
    """API keys of this organization (user keys): a request with one acts for it, in the
    project an `OpenAI-Project` header names (one of its `projects`) or its default one."""
    projects: list[ProjectSpec] = []
    """Its projects, each with its project keys."""
    admin_keys: list[Key] = []
    """Its admin keys (as `--admin-key KEY=org`): the only keys the checkpoint-permission
    endpoints accept."""
    wandb_key: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    """Its Weights & Biases credentials (as `--wandb-key ORG=KEY`): its jobs may enable
    the W&B integration."""

    _keys = field_validator("keys", "admin_keys")(_plain_keys)


class ModelSpec(Table):
    """A base model added to the catalog: its own fields, or those of `like` with changes."""

    id: Annotated[str, Field(min_length=1, max_length=256)]
    like: str | None = None
    """A catalog model whose fields the new one starts from."""
    created: Annotated[int, Field(gt=0, le=MAX_INSTANT)] | None = None
    owned_by: OwnedBy | None = None
    snapshot: str | None = None
    """For an alias: the snapshot it resolves to."""
    endpoint: Endpoint | None = None
    context_window: Annotated[int, Field(gt=0)] | None = None
    max_output_tokens: Annotated[int, Field(gt=0)] | None = None
    fine_tuning: FineTuningSpec | None = None
    fine_tunable: bool | None = None
    """False: not fine-tunable, even if `like` is."""


class ModelsSpec(Table):
    add: list[ModelSpec] = []
    remove: list[Annotated[str, Field(min_length=1)]] = []
    """Base models (and their aliases) the server does not list, serve or fine-tune."""


# -- seed state ----------------------------------------------------------------------------


class FileSpec(Table):
    name: Annotated[str, Field(min_length=1, max_length=256)]
    """The filename the File shows; jobs of the scenario name their files by it."""
    id: Annotated[str, Field(pattern=r"^file-[A-Za-z0-9]{1,64}$")] | None = None
    org: str | None = None
    purpose: Purpose = "fine-tune"
    content: str | None = None
    content_base64: str | None = None
    path: str | None = None
    """A file beside the scenario (relative to the scenario's directory)."""
    result_of: Annotated[str, Field(pattern=r"^ftjob-[A-Za-z0-9]{1,64}$")] | None = None
    """The result file of a job of the scenario, made as the job made it (export writes
    these, to keep the files in their order)."""
    created_at: Instant | None = None
    expires_after: Annotated[int, Field(ge=3600, le=2_592_000)] | None = None
    """Seconds from `created_at` until the File expires (a batch file's default: 30 days)."""

    @model_validator(mode="after")
    def _one_source(self) -> FileSpec:
        sources = ("content", "content_base64", "path", "result_of")
        given = [n for n in sources if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                "a file has exactly one of content, content_base64 and path"
                + (f" (got {' and '.join(given)})" if given else "")
            )
        return self


class ErrorSpec(Table):
    code: Annotated[str, Field(min_length=1, max_length=256)] = "server_error"
    message: Text | None = None
    """Default: the real service's wording for the code."""
    param: Annotated[str, Field(max_length=256)] | None = None


class PointSpec(Table):
    at_step: Annotated[int, Field(ge=1, le=MAX_STEP)] | None = None
    in_state: PointState | None = None

    @model_validator(mode="after")
    def _one_point(self) -> PointSpec:
        if self.at_step is not None and self.in_state is not None:
            raise ValueError("give at_step or in_state, not both")
        return self


class FailSpec(ErrorSpec, PointSpec):
    """An error at a point (`at_step` or `in_state`)."""


class SucceedSpec(Table):
    final_loss: Annotated[float, Field(gt=0, le=100)] | None = None
    final_accuracy: Annotated[float, Field(ge=0, le=1)] | None = None
    steps: Annotated[int, Field(ge=1, le=MAX_STEP)] | None = None
    """About this many steps: the batch size is chosen to give them."""
    n_epochs: Annotated[int, Field(ge=1, le=50)] | None = None
    batch_size: Annotated[int, Field(ge=1, le=256)] | None = None
    learning_rate_multiplier: Annotated[float, Field(gt=0, le=100)] | None = None
    duration_scale: Annotated[float, Field(gt=0, le=MAX_SCALE)] | None = None
    """Training (steps, epoch ends, publishing) takes this many times as long."""


Range = Annotated[
    tuple[Seconds, Seconds],
    BeforeValidator(_range),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string"},
                {
                    "type": "array",
                    "items": {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string"}]},
                    "minItems": 2,
                    "maxItems": 2,
                },
            ]
        }
    ),
]


class SlowSpec(Table):
    """Seeded, uniform draws per job: a fixed duration, or `[low, high]` ("2h", 7200)."""

    queue: Range | None = None
    step: Range | None = None
    """Each training step (drawn once per job)."""

    @field_validator("queue", "step")
    @classmethod
    def _ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and value[0] > value[1]:
            raise ValueError(f"the low end {value[0]:g} s is above the high end {value[1]:g} s")
        return value


class OutcomeSpec(Table):
    """How a job ends: at most one of succeed (the default), fail, cancel and hold; slow
    goes with any of them."""

    succeed: SucceedSpec | None = None
    fail: FailSpec | None = None
    cancel: PointSpec | None = None
    hold: PointSpec | None = None
    """Stay at the point (default: queued) until released (POST /mockft/jobs/{id}/release)."""
    slow: SlowSpec | None = None

    @model_validator(mode="after")
    def _one_end(self) -> OutcomeSpec:
        ends = [n for n in ("succeed", "fail", "cancel", "hold") if getattr(self, n) is not None]
        if len(ends) > 1:
            raise ValueError(f"an outcome has one end; got {' and '.join(ends)}")
        return self

    @property
    def end(self) -> str | None:
        for name in ("succeed", "fail", "cancel", "hold"):
            if getattr(self, name) is not None:
                return name
        return None


class Hyperparameters(Table):
    n_epochs: Literal["auto"] | Annotated[int, Field(ge=1, le=50)] = "auto"
    batch_size: Literal["auto"] | Annotated[int, Field(ge=1, le=256)] = "auto"
    learning_rate_multiplier: (
        Literal["auto"] | Annotated[float, Field(gt=0, allow_inf_nan=False)]
    ) = "auto"


class ValidatedSpec(Table):
    """What validating a job's files found (export writes it; a hand-written scenario
    leaves it out and the files are validated as a job's would be)."""

    examples: Annotated[int, Field(ge=0, le=MAX_EXAMPLES)]
    tokens: Annotated[int, Field(ge=0, le=MAX_TOKENS)]
    validation_examples: Annotated[int, Field(ge=0, le=MAX_EXAMPLES)] = 0
    warnings: list[str] = []
    error: ErrorSpec | None = None


class InterventionSpec(Table):
    at: Annotated[int, Field(ge=0, le=MAX_INSTANT)]
    kind: Literal["pause", "resume", "cancel", "fail", "complete", "hold", "release"]
    error: ErrorSpec | None = None
    planned: Annotated[int, Field(ge=0, le=MAX_INSTANT)] | None = None


class JobSpec(Table):
    """A job that exists when the scenario is loaded, in `status` as if it had run (its
    history follows the timing model), or exactly as `created_at` and `interventions`
    say (what `mockft scenario export` writes)."""

    id: Annotated[str, Field(pattern=r"^ftjob-[A-Za-z0-9]{1,64}$")] | None = None
    org: str | None = None
    project: ProjectId | None = None
    """The project it was made in: its models' owning project, which checkpoint permissions
    may not name (default: the organization's default project, which has no id)."""
    model: Annotated[str, Field(min_length=1, max_length=256)] = "gpt-4o-mini"
    training_file: Annotated[str, Field(min_length=1, max_length=256)]
    """A file of the scenario (its name or id), or the id of a File the server has."""
    validation_file: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    suffix: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    seed: Annotated[int, Field(ge=0, le=MAX_JOB_SEED)] | None = None
    method: Method | dict[str, Any] = "supervised"
    """A method's type, or the whole `method` object of a create request."""
    hyperparameters: Hyperparameters | None = None
    metadata: dict[str, Annotated[str, Field(max_length=512)]] | None = None
    integrations: list[dict[str, Any]] | None = None
    fine_tuned_model: Annotated[str, Field(pattern=r"^ft:[^:]+:[^:]*:[^:]*:[^:]+$")] | None = None
    """The model's name (default: made as the service makes it)."""
    status: JobStatus = "succeeded"
    at_step: Annotated[int, Field(ge=0, le=MAX_STEP)] | None = None
    """running / paused: the steps done; failed / cancelled: where it stopped (else
    `fail` / `cancel` say where)."""
    held: bool = False
    """validating_files / queued / running: held there until released."""
    error: ErrorSpec | None = None
    """failed: the job's error (or `fail` with a point)."""
    created_at: Instant | None = None
    finished_at: Instant | None = None
    """succeeded / failed / cancelled: when it ended (default: when the scenario loads)."""
    validated: ValidatedSpec | None = None
    interventions: list[InterventionSpec] | None = None
    outcome: OutcomeSpec | None = None
    """What happens to it next, as an outcome rule would say it."""
    deleted: list[str] = []
    """Its models and result file deleted since (export writes them)."""

    @model_validator(mode="after")
    def _consistent(self) -> JobSpec:
        status = self.status
        if self.interventions is not None and self.created_at is None:
            raise ValueError("a job given with its interventions needs its created_at")
        if self.held and status not in ("validating_files", "queued", "running"):
            raise ValueError(f"a {status} job cannot be held")
        if self.at_step is not None and status not in ("running", "paused", "failed", "cancelled"):
            raise ValueError(f"at_step does not apply to a {status} job")
        if self.error is not None and status != "failed":
            raise ValueError(f"error only applies to a failed job (this one is {status})")
        if self.finished_at is not None and status not in ("succeeded", "failed", "cancelled"):
            raise ValueError(f"finished_at only applies to a job that ended (this one is {status})")
        if self.finished_at is not None and self.created_at is not None:
            raise ValueError("give created_at or finished_at, not both")
        return self


# -- rules for what happens next ------------------------------------------------------------


class JobMatch(Table):
    """Which new jobs a rule is for: every field given must match (globs: `*`, `?`,
    `[abc]`)."""

    model: Pattern | None = None
    """The model as requested, or its base snapshot."""
    method: Method | None = None
    suffix: Pattern | None = None
    """A job without a suffix has the empty suffix ("*" matches it)."""
    metadata: dict[str, Pattern] | None = None
    training_file: Pattern | None = None
    """The training file's filename."""
    org: Pattern | None = None
    """The organization's name."""


class OutcomeRule(OutcomeSpec):
    name: Annotated[str, Field(max_length=256)] | None = None
    match: JobMatch = JobMatch()

    @model_validator(mode="after")
    def _says_something(self) -> OutcomeRule:
        if self.end is None and self.slow is None:
            raise ValueError("a rule needs an outcome: succeed, fail, cancel, hold or slow")
        return self


class AnswerRule(Table):
    """A fixed answer of chat and legacy completions: for a model (glob, default any) and
    a prompt (the last user message of a chat, a completion's prompt)."""

    model: Pattern = "*"
    prompt: Text | None = None
    """The whole prompt, exactly."""
    prompt_regex: Pattern | None = None
    """A regular expression (RE2: linear time) searched in the prompt."""
    reply: Text | None = None
    from_training: bool = False
    """Answer from the training data, as a fine-tuned model does without a rule."""

    @model_validator(mode="after")
    def _one_reply(self) -> AnswerRule:
        if self.prompt is not None and self.prompt_regex is not None:
            raise ValueError("give prompt or prompt_regex, not both")
        if (self.reply is None) == (not self.from_training):
            raise ValueError("an answer has either a reply or from_training = true")
        return self


class PermissionSpec(Table):
    """A checkpoint permission: the organization that owns a fine-tuned model (or one of
    its checkpoints) grants projects, of any organization, its use."""

    org: str | None = None
    """The granting organization (default: the default organization)."""
    model: Annotated[str, Field(pattern=r"^ft:[^:]+:[^:]*:[^:]*:[^:]+(:ckpt-step-\d+)?$")]
    """A fine-tuned model of a job of the scenario (or of the server), or a checkpoint's
    model as the API names it."""
    step: Annotated[int, Field(ge=1, le=MAX_STEP)] | None = None
    """The checkpoint at this step of the job that made `model` (default: the model)."""
    projects: Annotated[list[ProjectId], Field(min_length=1)]
    """The projects granted it."""
    id: Annotated[str, Field(pattern=r"^cp_[A-Za-z0-9]{1,64}$")] | None = None
    """The permission's id, with one project (export writes it; default: made)."""
    created_at: Instant | None = None
    """With `id`: when it was granted (default: when the scenario loads)."""

    @model_validator(mode="after")
    def _exact(self) -> PermissionSpec:
        if (self.id is not None or self.created_at is not None) and len(self.projects) != 1:
            raise ValueError("a permission given with its id or created_at has one project")
        if self.step is not None and ":ckpt-step-" in self.model:
            raise ValueError("give a fine-tuned model with step, or a checkpoint's model alone")
        return self


class LimitsSpec(Table):
    """The limits the real service applies (`--max-jobs-per-day`, `--max-running-jobs`):
    off unless given; a flag or variable wins at start, a run-time load changes them from
    then on."""

    max_jobs_per_day: Annotated[int, Field(ge=1, le=MAX_JOB_LIMIT)] | None = None
    """Jobs an organization may create per model in a rolling 24 hours."""
    max_running_jobs: Annotated[int, Field(ge=1, le=MAX_JOB_LIMIT)] | None = None
    """Jobs of an organization and model running at once; later ones stay queued."""


class ChaosRuleSpec(ChaosSpec):
    """A rule of `POST /mockft/chaos`, field for field, and the organization whose
    requests it hits (default: every organization's)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    org: str | None = None


# -- the file -------------------------------------------------------------------------------


class Scenario(Table):
    """A mockft scenario: the state a server starts from and what happens next."""

    version: Literal[1] = VERSION
    description: str | None = None
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] | None = None
    """The server's seed (ids, drawn job seeds, chaos draws); set at start only."""
    clock: ClockSpec | None = None
    organizations: list[OrganizationSpec] = []
    models: ModelsSpec | None = None
    files: list[FileSpec] = []
    jobs: list[JobSpec] = []
    outcomes: list[OutcomeRule] = []
    chaos: list[ChaosRuleSpec] = []
    answers: list[AnswerRule] = []
    permissions: list[PermissionSpec] = []
    limits: LimitsSpec | None = None
    id_sequence: Annotated[int, Field(ge=0, le=MAX_SEED)] | None = None
    """How many ids the server had handed out (export writes it, so that new ids do not
    repeat exported ones)."""


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario file, for editors (Taplo / Even Better TOML, ...)."""
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "mockft scenario"
    return schema
