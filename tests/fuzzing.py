"""What the schemathesis runs (tests/test_fuzz.py, tests/test_permissions.py) share: the spec
loaded into schemathesis once per process, and the clients that seed and fuzz an app in this
process.

Loading the spec into schemathesis costs ~0.2 s of CPU; each fuzzing test used to load it
again. The seeding requests went through Starlette's TestClient, which starts an event loop
in a new thread for every request; the plugin's in-process transport reuses one loop and
answers polls on the caller's thread. The fuzzing session is schemathesis's own ASGI client
(the same cases, the same checks) with `trust_env` off: `requests` otherwise reads the
environment's proxy settings on every request, which an app in this process never uses.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import httpx
import schemathesis
from schemathesis.python import asgi
from starlette.types import ASGIApp

from mockft.transport import Portal, transport
from tests.openapi_contract import load_spec

SEEDING_BASE_URL = "http://testserver/v1"


@cache
def _openapi() -> Any:
    # The normalised spec (draft-4 `exclusiveMinimum: true` rewritten, documented deviations
    # applied): exactly what tests.openapi_contract validates against. A deep copy: the
    # contract's own document stays as it is.
    return schemathesis.openapi.from_dict(copy.deepcopy(dict(load_spec())))


def fuzz_schema(path_regex: str) -> Any:
    """The operations of the spec whose path matches `path_regex`, as schemathesis sees them."""
    return _openapi().include(path_regex=path_regex)


@contextmanager
def seeding_client(app: ASGIApp, key: str) -> Iterator[httpx.Client]:
    """Raw HTTP to `app` in this process (base URL `.../v1`, `key` as the bearer token), for
    making the objects a fuzzing run starts from. It runs no lifespan: the app's lifespan
    would close the service at its end."""
    portal = Portal()
    try:
        with httpx.Client(
            transport=transport(app, portal, "httpx"),
            base_url=SEEDING_BASE_URL,
            headers={"Authorization": f"Bearer {key}"},
        ) as client:
            yield client
    finally:
        portal.close()


def fuzzing_session(app: ASGIApp) -> Any:
    """schemathesis's ASGI client for `app` (enter it with `with`)."""
    session = asgi.get_client(app)
    session.trust_env = False
    return session
