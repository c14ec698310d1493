"""Settings: every `mockft serve` flag is also a MOCKFT_* environment variable."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mockft import webhook_signing
from mockft.clock import MAX_INSTANT, MAX_SPEED

MAX_JOB_LIMIT: Final = 2**31 - 1
"""The largest job limit (`max_jobs_per_day`, `max_running_jobs`): the store keeps
limits as 64-bit integers, so a larger one could not be saved."""

ENV_PREFIX = "MOCKFT_"
DEFAULT_ORG_NAME = "mockft"
# Virtual seconds per real second on the system clock: a 10-example job, which
# takes about three minutes on the real service, finishes in about three seconds.
DEFAULT_SPEED = 60.0
MAX_FILE_BYTES = 512 * 1024 * 1024  # the real Files API limit
BOOL_SETTINGS = frozenset({"memory", "azure_auto_deploy", "access_log", "preload_vocabularies"})
# The largest JSON request body: the 50 MB per request the real API documented (and
# enforces on a request's images), so a body it would take is never refused here.
MAX_JSON_BYTES = 50 * 1024 * 1024
# A request body that sends nothing for this long is abandoned (408) and what it had
# written is deleted; a connection that does not finish its headers in time is closed.
BODY_TIMEOUT_SECONDS = 60.0
HEADERS_TIMEOUT_SECONDS = 30.0
KEEP_ALIVE_SECONDS = 5
MAX_TIMEOUT_SECONDS = 86_400.0
MAX_WEBHOOK_URL_LENGTH = 2048
PROJECT_SEPARATOR = "/"


def parse_key(entry: str) -> tuple[str, str | None, str | None]:
    """An `--api-key` entry, `KEY`, `KEY=org-name` or `KEY=org-name/PROJECT_ID`, as
    (key, org name, project); ValueError for any other form (an empty key, org or project)."""
    key, equals, owner = entry.partition("=")
    org, separator, project = owner.rpartition(PROJECT_SEPARATOR)
    if (
        not key.strip()
        or (equals and not owner.strip())
        or (separator and not (org.strip() and project.strip()))
    ):
        raise ValueError(f"{entry!r} is not KEY, KEY=org-name or KEY=org-name/PROJECT_ID")
    if not separator:
        return key, owner or None, None
    return key, org, project


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    data_dir: Path = Path(".mockft")
    memory: bool = False
    clock: Literal["system", "manual"] = "system"
    speed: float = Field(default=DEFAULT_SPEED, gt=0, le=MAX_SPEED)
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    start_time: int | None = Field(default=None, ge=0, le=MAX_INSTANT)
    """Where a new clock starts (unix seconds; a system clock runs on from there); default:
    the wall clock."""
    api_keys: tuple[str, ...] = ()
    """Accepted keys; empty accepts any key. `KEY=org-name` puts a key in its own org."""
    control_keys: tuple[str, ...] = ()
    """Keys of the control API with authority over every organization and the clock."""
    admin_keys: tuple[str, ...] = ()
    """Admin keys, `KEY=org-name` (or `KEY`, the default organization): the checkpoint
    permission endpoints require one."""
    webhooks: tuple[str, ...] = ()
    """URLs that receive the `fine_tuning.job.*` webhooks (events signed with
    `webhook_secret`)."""
    webhook_secret: str | None = None
    """`whsec_` + base64 bytes; generated (and kept in the data dir) when not given."""
    org_name: str = Field(default=DEFAULT_ORG_NAME, min_length=1, max_length=256)
    max_file_bytes: int = Field(default=MAX_FILE_BYTES, gt=0)
    azure_auto_deploy: bool = False
    """Azure: a deployment named like a model the caller may use exists without being made."""
    max_json_bytes: int = Field(default=MAX_JSON_BYTES, gt=0)
    body_timeout: float = Field(default=BODY_TIMEOUT_SECONDS, gt=0, le=MAX_TIMEOUT_SECONDS)
    headers_timeout: float = Field(default=HEADERS_TIMEOUT_SECONDS, gt=0, le=MAX_TIMEOUT_SECONDS)
    wandb_keys: tuple[str, ...] = ()
    """`ORG=KEY`: the organization (named as in `--api-key KEY=org`) has Weights & Biases
    credentials registered, so its jobs may enable the W&B integration."""
    wandb_dir: Path | None = None
    """Where each W&B job's run is written in W&B's offline format (needs `wandb`)."""
    max_jobs_per_day: int | None = Field(default=None, ge=1, le=MAX_JOB_LIMIT)
    """Jobs an organization may create per model in 24 hours (None: no limit)."""
    max_running_jobs: int | None = Field(default=None, ge=1, le=MAX_JOB_LIMIT)
    """Jobs of an organization that run at once per model; the rest stay queued."""
    # perf (issue 19): the HTTP stack that serves; "auto" is the fastest one installed
    # (httptools and uvloop where their wheels exist, else h11 and asyncio's loop).
    http: Literal["auto", "httptools", "h11"] = "auto"
    loop: Literal["auto", "uvloop", "asyncio"] = "auto"
    access_log: bool = False
    """uvicorn's line per request (off by default: it costs more than answering a poll)."""
    preload_vocabularies: bool = True
    """Load the tokenizers' vocabularies at start-up (about a second), so that no request
    pays for them; off, the first request that counts tokens loads them."""
    scenario: tuple[Path, ...] = ()
    """Scenario files the server starts with, in order (later files win); the variable
    separates them with the platform's path separator (":" or ";")."""

    @field_validator(
        "api_keys", "control_keys", "wandb_keys", "admin_keys", "webhooks", mode="before"
    )
    @classmethod
    def _split_keys(cls, value: object) -> object:
        """A comma-separated variable, or repeated flags; empty entries (`--api-key=`,
        `MOCKFT_API_KEYS=""`) mean no key, in both forms alike."""
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, (list, tuple)):
            return tuple(k.strip() for k in value if isinstance(k, str) and k.strip())
        return value

    @field_validator("scenario", mode="before")
    @classmethod
    def _split_paths(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(p for p in value.split(os.pathsep) if p.strip())
        return value

    @field_validator("api_keys")
    @classmethod
    def _check_api_keys(cls, keys: tuple[str, ...]) -> tuple[str, ...]:
        for entry in keys:
            parse_key(entry)
        return keys

    @field_validator("admin_keys")
    @classmethod
    def _check_admin_keys(cls, keys: tuple[str, ...]) -> tuple[str, ...]:
        for entry in keys:
            key, sep, org = entry.partition("=")
            if not key.strip() or (sep and not org.strip()) or "/" in org:
                raise ValueError(f"{entry!r} is not KEY or KEY=org-name")
        return keys

    @field_validator("wandb_keys")
    @classmethod
    def _check_wandb_keys(cls, keys: tuple[str, ...]) -> tuple[str, ...]:
        for entry in keys:
            org, sep, key = entry.partition("=")
            if not sep or not org.strip() or not key.strip():
                raise ValueError("a W&B key is given as ORG=KEY (an entry lacks one of them)")
        return keys

    @field_validator("webhooks")
    @classmethod
    def _check_webhooks(cls, urls: tuple[str, ...]) -> tuple[str, ...]:
        for url in urls:
            if not webhook_url_ok(url):
                raise ValueError(f"{url!r} is not an http:// or https:// URL")
        return tuple(dict.fromkeys(urls))

    @field_validator("webhook_secret")
    @classmethod
    def _check_webhook_secret(cls, secret: str | None) -> str | None:
        if secret is not None and not webhook_signing.secret_ok(secret):
            raise ValueError("the webhook secret is whsec_ followed by base64 bytes")
        return secret

    @model_validator(mode="after")
    def _control_keys_are_not_api_keys(self) -> Settings:
        kinds = {
            "API": {entry.partition("=")[0] for entry in self.api_keys},
            "control": set(self.control_keys),
            "admin": {entry.partition("=")[0] for entry in self.admin_keys},
        }
        names = sorted(kinds)
        for i, first in enumerate(names):
            for second in names[i + 1 :]:
                shared = kinds[first] & kinds[second]
                if shared:
                    raise ValueError(
                        f"a key is of one kind only: {len(shared)} key(s) are given as both "
                        f"{first} and {second} keys"
                    )
        return self

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Environment first, then explicit overrides (CLI flags that were given)."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name in cls.model_fields:
            raw = env.get(ENV_PREFIX + name.upper())
            if raw is not None:
                values[name] = _parse_env_bool(raw) if name in BOOL_SETTINGS else raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"


def webhook_url_ok(url: str) -> bool:
    """An absolute http(s) URL with a host, of a sane length."""
    scheme, sep, rest = url.partition("://")
    return (
        bool(sep)
        and scheme.lower() in {"http", "https"}
        and bool(rest.split("/", 1)[0])
        and len(url) <= MAX_WEBHOOK_URL_LENGTH
        and not any(c.isspace() for c in url)
    )


def _parse_env_bool(raw: str) -> bool:
    return raw.strip().lower() in {"1", "true", "yes", "on"}
