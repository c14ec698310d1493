"""What the dashboard reads, through the service's operations only (never the store): the
same calls the API routes make, so every page shows what the API answers at that instant.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mockft import errors, lifecycle, synth, validation
from mockft.auth import Organization
from mockft.dashboard import examples, jobview
from mockft.dashboard.charts import Chart
from mockft.pagination import MAX_LIMIT, PageRequest, slice_after
from mockft.schemas import CreateChatCompletion, parse
from mockft.service import FileContent, Service
from mockft.service.models import ModelInfo
from mockft.wire import jobs as wire
from mockft.wire import webhooks as wire_webhooks
from mockft.wire.files import FileRecord as FileObject

JOBS_PER_PAGE = 25
# A status filter is applied to the jobs as they are read: one page reads at most this
# many jobs, and offers the next page from where it stopped.
MAX_JOBS_SCANNED = 500
JOBS_READ_AT_ONCE = 100
EVENTS_PER_PAGE = 25
WEBHOOKS_SHOWN = 50
FILES_PER_PAGE = 50
RESULT_ROWS_SHOWN = 500
EXAMPLE_HEAD_BYTES = 256 * 1024
FINE_TUNE = "fine-tune"
RESULTS = "fine-tune-results"
DEFAULT_CHAT_MODEL = "gpt-4o-mini"
DEFAULT_PROMPT_COMPLETION_MODEL = "babbage-002"
CHECKPOINT_MARK = synth.CHECKPOINT_MODEL_TEMPLATE.split("}", 1)[1].split("{", 1)[0]
FINE_TUNED_PREFIX = synth.FINE_TUNED_PREFIX
CHAT_ENDPOINT = "chat"  # the catalog's `endpoint` of a model that answers chat completions
ALL = PageRequest(limit=MAX_LIMIT)  # every event or checkpoint of a job


@dataclass(frozen=True)
class JobRow:
    job: Mapping[str, Any]
    progress: jobview.Progress | None


@dataclass(frozen=True)
class JobList:
    rows: list[JobRow]
    next_after: str | None
    scanned: int


@dataclass(frozen=True)
class ResultTable:
    file_id: str
    header: list[str]
    rows: list[list[str]]
    total_rows: int


@dataclass(frozen=True)
class JobPage:
    job: Mapping[str, Any]
    progress: jobview.Progress | None
    timeline: list[jobview.Transition]
    charts: list[Chart]
    checkpoints: Sequence[Any]
    events: Sequence[Any]
    """This page of events, newest first."""
    events_total: int
    events_next: str | None
    files: dict[str, FileObject | None]
    result: ResultTable | None
    webhooks: Sequence[Mapping[str, Any]] = ()
    """The job's webhook deliveries, oldest first, each with its attempts."""
    webhooks_configured: bool = False


@dataclass(frozen=True)
class ReportView:
    model: str
    method: str
    report: validation.ValidationReport | None
    estimate: validation.CostEstimate | None
    problem: str | None
    """Why no report: the model cannot be tuned with the method, ..."""

    @property
    def over_limit(self) -> int:
        """Examples over the model's per-example token limit."""
        return self.report.check(validation.OVER_TOKEN_LIMIT).count if self.report else 0


@dataclass(frozen=True)
class ModelRow:
    model: ModelInfo
    checkpoint: bool
    chats: bool
    """Answers on chat completions (its base model does): the playground offers it."""


@dataclass(frozen=True)
class ChatReply:
    model: str
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int


class Reader:
    def __init__(self, service: Service, org: Organization) -> None:
        self.service = service
        self.org = org

    # -- jobs -----------------------------------------------------------------------------

    def jobs(
        self,
        *,
        status: str | None = None,
        metadata: dict[str, str] | None = None,
        after: str | None = None,
        limit: int = JOBS_PER_PAGE,
    ) -> JobList:
        """Newest first. The status is the job's at this instant, so it is matched as the
        jobs are read (the API lists by metadata only)."""
        rows: list[JobRow] = []
        last: str | None = None
        scanned = 0
        more = False
        for job in self._all_jobs(metadata, after):
            if len(rows) == limit or scanned == MAX_JOBS_SCANNED:
                more = True
                break
            scanned += 1
            last = job["id"]
            if status is None or job["status"] == status:
                events = self._events(job["id"])
                rows.append(JobRow(job, jobview.progress(events)))
        return JobList(rows, last if more else None, scanned)

    def _events(self, job_id: str) -> list[lifecycle.Event]:
        """All the job's events, newest first (a job has at most a few thousand)."""
        return self.service.jobs.events(self.org, job_id, ALL)

    def _all_jobs(
        self, metadata: dict[str, str] | None, after: str | None
    ) -> Iterator[dict[str, Any]]:
        cursor = after
        while True:
            page = PageRequest(limit=JOBS_READ_AT_ONCE, after=cursor)
            batch = [wire.job(v) for v in self.service.jobs.page(self.org, page, metadata or None)]
            yield from batch[:JOBS_READ_AT_ONCE]
            if len(batch) <= JOBS_READ_AT_ONCE:
                return
            cursor = batch[JOBS_READ_AT_ONCE - 1]["id"]

    def job(self, job_id: str, events_after: str | None = None) -> JobPage:
        job = wire.job(self.service.jobs.get(self.org, job_id))
        newest_first = self._events(job_id)
        checkpoints = self.service.jobs.checkpoints(self.org, job_id, ALL)
        progress = jobview.progress(newest_first)
        oldest_first = newest_first[::-1]
        window = slice_after(
            newest_first, PageRequest(limit=EVENTS_PER_PAGE, after=events_after), lambda e: e.id
        )
        shown = window[:EVENTS_PER_PAGE]
        total_steps = progress.total if progress else 0
        files = {
            file_id: self._file_or_none(file_id)
            for file_id in (job["training_file"], job["validation_file"])
            if file_id
        }
        results = job["result_files"]
        return JobPage(
            job=job,
            progress=progress,
            timeline=jobview.timeline(job, oldest_first),
            charts=jobview.charts(oldest_first, checkpoints, total_steps),
            checkpoints=checkpoints,
            events=shown,
            events_total=len(newest_first),
            events_next=shown[-1].id if len(window) > EVENTS_PER_PAGE else None,
            files=files,
            result=self.result_table(results[0]) if results else None,
            webhooks=self.webhook_deliveries(job_id),
            webhooks_configured=self.service.webhooks.active,
        )

    def webhook_deliveries(self, job_id: str) -> list[Mapping[str, Any]]:
        """The webhooks delivered (or being delivered) for the job, oldest first."""
        page = PageRequest(limit=WEBHOOKS_SHOWN, order="asc")
        found = self.service.webhooks.deliveries(self.org.id, page, job_id)
        return [wire_webhooks.delivery(d) for d in found[:WEBHOOKS_SHOWN]]

    # -- files ----------------------------------------------------------------------------

    def files(self, *, purpose: str | None = None, after: str | None = None) -> list[FileObject]:
        """Up to FILES_PER_PAGE + 1 files, newest first (one more says there are more)."""
        return self.service.files.page(
            self.org, PageRequest(limit=FILES_PER_PAGE, after=after), purpose or None
        )

    def file(self, file_id: str) -> FileObject:
        return self.service.files.get(self.org, file_id)

    def _file_or_none(self, file_id: str) -> FileObject | None:
        try:
            return self.file(file_id)
        except errors.APIError:  # deleted since the job was made
            return None

    def content(self, file_id: str) -> bytes:
        return b"".join(self.download(file_id).chunks)

    def download(self, file_id: str) -> FileContent:
        """A file's bytes as `GET /v1/files/{id}/content` streams them."""
        return self.service.files.content(self.org, file_id)

    def result_csv(self, job_id: str) -> bytes:
        """A job's result CSV, decoded (the API serves it base64-encoded)."""
        results = wire.job(self.service.jobs.get(self.org, job_id))["result_files"]
        if not results:
            raise errors.invalid("This job has no result file yet.", "job_id")
        return self.decoded_result(results[0])

    def result_table(self, file_id: str, limit: int = RESULT_ROWS_SHOWN) -> ResultTable | None:
        """The result CSV (served base64-encoded, as the real API serves it) as a table."""
        try:
            text = self.decoded_result(file_id).decode()
        except (errors.APIError, ValueError):
            return None
        rows = list(csv.reader(io.StringIO(text)))
        if not rows:
            return None
        return ResultTable(file_id, rows[0], rows[1 : limit + 1], len(rows) - 1)

    def decoded_result(self, file_id: str) -> bytes:
        raw = self.content(file_id)
        try:
            return base64.b64decode(raw, validate=True)
        except binascii.Error:
            return raw

    def first_examples(self, file_id: str) -> list[examples.Example]:
        """The file's first examples; reads no further than they are."""
        lines = validation.lines(self.service.files.content(self.org, file_id).chunks)
        return examples.first_examples(lines)

    def report_defaults(self, shown: Sequence[examples.Example]) -> tuple[str, str]:
        """The model and method `mockft validate` would pick for a file starting so."""
        kind = next((e.format for e in shown if e.format is not None), None)
        if kind == validation.FORMAT_DPO:
            return DEFAULT_CHAT_MODEL, validation.METHOD_DPO
        if kind == validation.FORMAT_PROMPT_COMPLETION:
            return DEFAULT_PROMPT_COMPLETION_MODEL, validation.METHOD_SUPERVISED
        return DEFAULT_CHAT_MODEL, validation.METHOD_SUPERVISED

    def fine_tunable(self) -> list[str]:
        return [m.id for m in self.service.ctx.catalog.fine_tunable()]

    def report(self, file_id: str, model: str, method: str) -> ReportView:
        """`mockft validate`'s report of a stored file: the checks, token statistics,
        examples over the limit and the cost estimate. Reads the whole file: call it off
        the event loop."""
        catalog = self.service.ctx.catalog
        entry, spec = catalog.resolve(model), catalog.fine_tuning(model)
        if entry is None or spec is None:
            return ReportView(model, method, None, None, f"{model} cannot be fine-tuned.")
        if method not in validation.METHODS:
            return ReportView(model, method, None, None, f"Unknown method: {method}.")
        unsupported = validation.method_error(entry.id, spec, method)
        if unsupported is not None:
            return ReportView(model, method, None, None, unsupported)
        report = validation.validate_file(
            self.service.files.content(self.org, file_id).chunks,
            model=entry.id,
            model_spec=spec,
            method=method,
            purpose=validation.TRAINING_FILE,
            source=file_id,
        )
        return ReportView(model, method, report, validation.estimate_cost(report, spec), None)

    # -- models ---------------------------------------------------------------------------

    def models(self) -> list[ModelRow]:
        """The organization's fine-tuned and checkpoint models, newest first."""
        tuned = [m for m in self.service.models.all(self.org) if m.id.startswith(FINE_TUNED_PREFIX)]
        tuned.sort(key=lambda m: (-m.created, m.id))
        return [ModelRow(m, CHECKPOINT_MARK in m.id, self._chats(m.id)) for m in tuned]

    def chat_base_models(self) -> list[str]:
        """The base models that answer on chat completions (not whisper, embeddings,
        babbage-002, ...), in the catalog's order."""
        catalog = self.service.ctx.catalog
        return [m.id for m in catalog.all() if m.endpoint == CHAT_ENDPOINT]

    def _chats(self, tuned: str) -> bool:
        base = self.service.models.tuned_base(self.org, tuned)
        entry = None if base is None else self.service.ctx.catalog.resolve(base)
        return entry is not None and entry.endpoint == CHAT_ENDPOINT

    def chat(self, model: str, system: str, user: str, seed: int | None) -> ChatReply:
        """One chat completion, as `POST /v1/chat/completions` makes it."""
        messages = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": user})
        body: dict[str, Any] = {"model": model, "messages": messages}
        if seed is not None:
            body["seed"] = seed
        answer = self.service.inference.chat(self.org, parse(CreateChatCompletion, body))
        choice = answer.choices[0]
        return ChatReply(
            answer.model,
            choice.text,
            choice.finish_reason,
            answer.prompt_tokens,
            answer.completion_tokens,
        )
