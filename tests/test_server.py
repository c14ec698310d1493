"""The stack a server runs on: the fast one where it is installed, h11 and asyncio's loop
where it is not, and the health endpoint names the one that serves."""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from mockft import server
from mockft.config import Settings
from tests.conftest import live_server, make_settings


def test_auto_is_the_fast_stack_where_installed() -> None:
    assert server.stack(Settings()) == server.Stack("httptools", "uvloop")


def test_auto_falls_back_to_h11_and_asyncio(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "_installed", lambda module: False)
    chosen = server.stack(Settings())
    assert chosen == server.Stack("h11", "asyncio")
    options = server.options(Settings())
    assert options["loop"] == "asyncio"
    assert issubclass(options["http"], server.HeadersDeadline)
    assert options["http"].__mro__[2].__name__ == "H11Protocol"


def test_the_access_log_is_off_unless_asked_for() -> None:
    assert server.options(Settings())["access_log"] is False
    assert server.options(Settings(access_log=True))["access_log"] is True
    assert Settings.from_env({"MOCKFT_ACCESS_LOG": "1"}).access_log is True


@pytest.mark.parametrize(("http", "loop"), [("httptools", "uvloop"), ("h11", "asyncio")])
def test_health_names_the_stack_that_serves(tmp_path: Path, http: str, loop: str) -> None:
    settings = make_settings(tmp_path, http=http, loop=loop)
    with live_server(settings) as live:
        health = httpx.get(f"{live.root_url}/mockft/health").json()
    assert health["stack"] == {"server": "uvicorn", "http": http, "loop": loop}
    assert str(server.stack(settings)) == f"uvicorn {server.uvicorn.__version__} ({http}, {loop})"


def test_in_process_health_says_so(tmp_path: Path) -> None:
    from mockft.app import create_app

    app = create_app(make_settings(tmp_path))
    transport = httpx.ASGITransport(app=app)

    async def health() -> dict[str, object]:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            body: dict[str, object] = (await http.get("/mockft/health")).json()
            return body

    import asyncio

    assert asyncio.run(health())["stack"] == {"server": "in-process", "loop": "asyncio"}


def test_the_vocabularies_load_before_the_first_request(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from mockft import tokens
    from mockft.app import create_app

    tokens.get_counter.cache_clear()
    tokens._splitter.cache_clear()
    app = create_app(make_settings(tmp_path))
    assert tokens.get_counter.cache_info().currsize == 0
    with TestClient(app):  # runs the lifespan's start-up; no request sent
        assert tokens.get_counter.cache_info().currsize == len(tokens.ENCODINGS)
        assert tokens._splitter.cache_info().currsize == len(tokens.ENCODINGS)


def test_preloading_can_be_turned_off(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from mockft import tokens
    from mockft.app import create_app

    assert Settings().preload_vocabularies is True
    settings = Settings.from_env({"MOCKFT_PRELOAD_VOCABULARIES": "0"})
    assert settings.preload_vocabularies is False
    tokens.get_counter.cache_clear()
    with TestClient(create_app(make_settings(tmp_path, preload_vocabularies=False))):
        assert tokens.get_counter.cache_info().currsize == 0


def test_serving_hands_the_gil_over_often(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    import uvicorn

    seen: list[float] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: seen.append(sys.getswitchinterval()))
    before = sys.getswitchinterval()
    server.run(object(), Settings())
    assert seen == [server.SWITCH_INTERVAL_SECONDS] and seen[0] < before
    assert sys.getswitchinterval() == before


def _thread_server(app: object) -> tuple[server.ThreadServer, threading.Thread, str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = server.config(app, Settings(), log_level="warning", lifespan="on")
    thread_server = server.ThreadServer(config)
    thread = threading.Thread(target=thread_server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not thread_server.started:
        assert thread.is_alive()
        time.sleep(0.01)
    return thread_server, thread, url


def _app(release: threading.Event, events: list[str]) -> object:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                events.append(message["type"])
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        if scope["path"] == "/slow":
            events.append("request")
            await asyncio.get_running_loop().run_in_executor(None, release.wait)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"the whole answer"})

    return app


def _wait_until_refused(url: str) -> None:
    while True:
        try:
            httpx.get(url, timeout=0.2)
        except httpx.ConnectError:
            return
        except httpx.TimeoutException:
            pass
        time.sleep(0.01)


def test_a_thread_server_stopped_while_idle_shuts_its_app_down() -> None:
    events: list[str] = []
    thread_server, thread, url = _thread_server(_app(threading.Event(), events))
    thread_server.stop()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert events == ["lifespan.startup", "lifespan.shutdown"]
    with pytest.raises(httpx.ConnectError):
        httpx.get(url)


def test_a_thread_server_stopped_mid_request_finishes_the_answer_first() -> None:
    release, events = threading.Event(), []
    thread_server, thread, url = _thread_server(_app(release, events))
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        answer = pool.submit(httpx.get, f"{url}/slow", timeout=10)
        while "request" not in events:
            time.sleep(0.01)
        thread_server.stop()
        _wait_until_refused(url)  # it has stopped listening: it is shutting down
        release.set()
        assert answer.result().text == "the whole answer"
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert events == ["lifespan.startup", "request", "lifespan.shutdown"]
