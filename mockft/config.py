"""Settings: every `mockft serve` flag is also a MOCKFT_* environment variable."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ENV_PREFIX = "MOCKFT_"
DEFAULT_ORG_NAME = "mockft"
# Virtual seconds per real second on the system clock: a 10-example job, which
# takes about three minutes on the real service, finishes in about three seconds.
DEFAULT_SPEED = 60.0
MAX_FILE_BYTES = 512 * 1024 * 1024  # the real Files API limit
BOOL_SETTINGS = frozenset({"memory", "azure_auto_deploy"})


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    data_dir: Path = Path(".mockft")
    memory: bool = False
    clock: Literal["system", "manual"] = "system"
    speed: float = Field(default=DEFAULT_SPEED, gt=0)
    seed: int = Field(default=0, ge=0)
    start_time: int | None = Field(default=None, ge=0)
    """Where a new manual clock starts (unix seconds); default: the wall clock."""
    api_keys: tuple[str, ...] = ()
    """Accepted keys; empty accepts any key. `KEY=org-name` puts a key in its own org."""
    org_name: str = DEFAULT_ORG_NAME
    max_file_bytes: int = Field(default=MAX_FILE_BYTES, gt=0)
    azure_auto_deploy: bool = False
    """Azure: a deployment named like a model the caller may use exists without being made."""

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(k.strip() for k in value.split(",") if k.strip())
        return value

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


def _parse_env_bool(raw: str) -> bool:
    return raw.strip().lower() in {"1", "true", "yes", "on"}
