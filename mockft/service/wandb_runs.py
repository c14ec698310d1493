"""A job's Weights & Biases run, written in W&B's offline format so that `wandb sync` can
upload it: what the real integration sends W&B, made from the job's synthetic metrics.

Optional: only where the `wandb` package is installed and `--wandb-dir` (`MOCKFT_WANDB_DIR`)
is set, for a job that enables the integration, once its success is materialised (off the
event loop, with the result file). The run follows the fine-tuning guide: its id, and its
name unless the integration gives one, are the job's id; its config holds the model, the
files, the hyperparameters and the seed; its tags are `openai/fine-tuning`,
`openai/{job id}` and `openai/{model}` before the integration's own; it logs the metrics of
each step that has a metrics event, as the job's events report them.

The run is written by the `wandb` package itself (`wandb.init(mode="offline")`), so the files
are whatever the installed W&B version reads back. A failure to write it is logged and
changes nothing else: the job, its models and its result file are made all the same.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from mockft import synth
from mockft.job_record import JobRecord
from mockft.joblog import EventSteps, metrics_for_step
from mockft.lifecycle import JobPlan

WANDB: Final = "wandb"
RUN_PREFIX: Final = "offline-run-"  # wandb's folder of an offline run: offline-run-{time}-{id}
TAG_PREFIX: Final = "openai/"
FINE_TUNING_TAG: Final = TAG_PREFIX + "fine-tuning"
MAX_TAG_CHARS: Final = 64  # W&B's limit on a tag
EVENT_ONLY_KEYS: Final = frozenset({"step", "total_steps"})

log = logging.getLogger("mockft.wandb")


def integration(record: JobRecord) -> dict[str, Any] | None:
    """The job's W&B settings (`integrations[].wandb`), if it enables the integration."""
    for item in record.integrations:
        if item.get("type") == WANDB and isinstance(item.get(WANDB), dict):
            settings: dict[str, Any] = item[WANDB]
            return settings
    return None


def available() -> bool:
    try:
        import wandb  # noqa: F401
    except ImportError:
        return False
    return True


def config(record: JobRecord, plan: JobPlan) -> dict[str, Any]:
    """The run's config: the job metadata the guide lists."""
    return {
        "model": record.model,
        "training_file": record.training_file,
        "validation_file": record.validation_file,
        "hyperparameters": {
            "n_epochs": plan.n_epochs,
            "batch_size": plan.batch_size,
            "learning_rate_multiplier": plan.learning_rate_multiplier,
        },
        "seed": record.seed,
    }


def tags(record: JobRecord, own: list[str] | None) -> list[str]:
    """OpenAI's tags, then the integration's. A model name too long for a tag (a continued
    job's `ft:` model) is tagged by the snapshot it was trained from."""
    model = f"{TAG_PREFIX}{record.model}"
    if len(model) > MAX_TAG_CHARS:
        model = f"{TAG_PREFIX}{record.base_snapshot}"
    defaults = [FINE_TUNING_TAG, f"{TAG_PREFIX}{record.id}", model]
    return list(dict.fromkeys([*defaults, *(own or [])]))


def history(plan: JobPlan, steps_done: int) -> Iterator[tuple[int, dict[str, object]]]:
    """(step, metrics) for each step that has a metrics event, as the event reports them."""
    reported = EventSteps(plan.total_steps, plan.metrics_event_stride)
    for index in range(reported.count(steps_done)):
        step = reported.step(index)
        data = synth.metrics_event_data(metrics_for_step(plan, step), plan.total_steps)
        yield step, {k: v for k, v in data.items() if k not in EVENT_ONLY_KEYS}


def written(directory: Path, job_id: str) -> bool:
    runs = directory / WANDB
    return runs.is_dir() and any(runs.glob(f"{RUN_PREFIX}*-{job_id}"))


def write_run(directory: Path, record: JobRecord, plan: JobPlan, steps_done: int) -> bool:
    """Write the job's run under `directory` (once); whether a run was written."""
    settings = integration(record)
    if settings is None or written(directory, record.id):
        return False
    try:
        import wandb
    except ImportError:
        return False
    try:
        directory.mkdir(parents=True, exist_ok=True)
        run = wandb.init(
            dir=os.fspath(directory),
            id=record.id,
            name=settings.get("name") or record.id,
            project=settings.get("project"),
            entity=settings.get("entity"),
            config=config(record, plan),
            tags=tags(record, settings.get("tags")),
            reinit="create_new",
            settings=wandb.Settings(
                mode="offline",
                console="off",
                silent=True,
                save_code=False,
                disable_git=True,
                x_disable_stats=True,
                x_disable_meta=True,
            ),
        )
        try:
            for step, metrics in history(plan, steps_done):
                run.log(metrics, step=step)
        finally:
            run.finish()
    except Exception:  # the run is an extra: the job's success stands whatever happens here
        log.exception("could not write the W&B run of %s", record.id)
        return False
    return True
