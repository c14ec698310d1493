"""Shared fixtures: a live mockft server in a thread (real HTTP, any SDK line), the
official SDK pointed at it, and a raw HTTP client. Every response that passes through
either client is checked against OpenAI's OpenAPI description."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import uvicorn

from mockft.app import create_app
from mockft.config import Settings
from mockft.server import config as server_config
from mockft.service import Service
from tests.openapi_contract import UnknownOperationError, check, schema_violations

# Servers the tests start in subprocesses (many, one after another) skip loading the
# vocabularies at start-up: a test that counts tokens loads them when it first does.
os.environ.setdefault("MOCKFT_PRELOAD_VOCABULARIES", "0")

API_KEY = "sk-test-0123456789"
START = 1_750_000_000  # the manual clock's start in tests: runs are byte-identical
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    settings: Settings
    service: Service
    base_url: str

    @property
    def root(self) -> str:
        return self.base_url.removesuffix("/v1")

    def advance(self, seconds: float) -> None:
        self.service.clock.advance(seconds)


@contextmanager
def live_server(settings: Settings) -> Iterator[LiveServer]:
    service = Service.open(settings)
    config = server_config(
        create_app(settings, service), settings, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("mockft test server did not start")
        time.sleep(0.005)
    try:
        yield LiveServer(settings, service, settings.base_url)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "port": free_port(),
        "data_dir": tmp_path / "data",
        "clock": "manual",
        "seed": 7,
        "start_time": START,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(make_settings(tmp_path)) as live:
        yield live


def _check_hook(response: Any) -> None:
    response.read()
    try:
        check(response)
    except UnknownOperationError:
        # Not an OpenAI operation (an unknown URL): it must still be the error envelope.
        assert response.status_code >= 400, response.request.url
        body = response.json()
        assert schema_violations("ErrorResponse", body) == []
        assert set(body["error"]) == {"message", "type", "param", "code"}


def checked_http(server: LiveServer) -> httpx.Client:
    """Raw HTTP with the key set; every response is checked against the spec."""
    return httpx.Client(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {API_KEY}"},
        event_hooks={"response": [_check_hook]},
        timeout=30,
    )


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with checked_http(server) as client:
        yield client


@pytest.fixture
def client(server: LiveServer) -> Iterator[openai.OpenAI]:
    """The unchanged official SDK, but for base_url; its responses are spec-checked too."""
    http_client = openai.DefaultHttpxClient(event_hooks={"response": [_check_hook]})
    sdk = openai.OpenAI(
        base_url=server.base_url, api_key=API_KEY, max_retries=0, http_client=http_client
    )
    yield sdk
    sdk.close()
