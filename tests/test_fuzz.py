"""Property fuzzing driven by OpenAI's OpenAPI description, and a hand-written corpus of
hostile inputs.

Part 1 (schemathesis): every operation mockft implements gets positive and negative cases
generated from the (normalised) spec, sent in-process to the ASGI app. Half of the path-id
cases use ids of objects that exist (a file, jobs in several states, a pending upload, a
fine-tuned model), so the fuzzer reaches past the 404s. Hypothesis is derandomised: the same
cases every run. Every response must be: not a 5xx; valid strict JSON (no NaN/Infinity);
conforming to the spec (schemathesis's own schema check, plus `tests.openapi_contract`, which
also validates undocumented 4xx bodies against `ErrorResponse` and the exact error envelope);
stamped with `x-request-id`. Violations are collected across all cases, then reported
together.

Part 2 (hostile corpus, against a live server): malformed multipart, truncated bodies, huge
fields, invalid UTF-8, wrong content types, path traversal in filenames, bad `limit`s, bogus
cursors, unicode ids, very long URLs, duplicate query parameters, garbage auth headers.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
)
from starlette.applications import Starlette

from mockft.app import create_app
from mockft.config import Settings
from tests.conftest import (
    FIXTURES,
    START,
    Server,
    checked_http,
    in_process,
    live_server,
    make_settings,
)
from tests.fuzzing import fuzz_schema, fuzzing_session, seeding_client
from tests.openapi_contract import response_violations, schema_violations

# --- part 1: schemathesis ---------------------------------------------------------------------

# Every operation of the spec that mockft implements: (method, spec path).
OPERATIONS: tuple[tuple[str, str], ...] = (
    ("GET", "/files"),
    ("POST", "/files"),
    ("GET", "/files/{file_id}"),
    ("DELETE", "/files/{file_id}"),
    ("GET", "/files/{file_id}/content"),
    ("POST", "/uploads"),
    ("POST", "/uploads/{upload_id}/parts"),
    ("POST", "/uploads/{upload_id}/complete"),
    ("POST", "/uploads/{upload_id}/cancel"),
    ("POST", "/fine_tuning/jobs"),
    ("GET", "/fine_tuning/jobs"),
    ("GET", "/fine_tuning/jobs/{fine_tuning_job_id}"),
    ("POST", "/fine_tuning/jobs/{fine_tuning_job_id}/cancel"),
    ("POST", "/fine_tuning/jobs/{fine_tuning_job_id}/pause"),
    ("POST", "/fine_tuning/jobs/{fine_tuning_job_id}/resume"),
    ("GET", "/fine_tuning/jobs/{fine_tuning_job_id}/events"),
    ("GET", "/fine_tuning/jobs/{fine_tuning_job_id}/checkpoints"),
    ("GET", "/models"),
    ("GET", "/models/{model}"),
    ("DELETE", "/models/{model}"),
)
IMPLEMENTED_PATHS = r"^/(files|uploads|fine_tuning/jobs|models)(/|$)"
EXAMPLES_PER_OPERATION = 40  # hypothesis' budget per operation: 20 x 40 = 800 at most
MIN_CASES_PER_OPERATION = 30  # what each operation must really run: >= 600 in total
FUZZ_KEY = "sk-fuzz-0123456789"
REQUEST_ID = re.compile(r"^req_[0-9a-f]{32}$")
SCHEMATHESIS_CHECKS = (
    not_a_server_error,
    response_schema_conformance,
    response_headers_conformance,
)
TRAIN = (FIXTURES / "train_chat.jsonl").read_bytes()


def strict_json(content: bytes) -> Any:
    """JSON as RFC 8259 has it: `NaN` / `Infinity` (which Python's json accepts) are errors."""

    def reject(constant: str) -> Any:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(content, parse_constant=reject)


def _schema() -> Any:
    # The normalised spec (draft-4 `exclusiveMinimum: true` rewritten, documented deviations
    # applied): exactly what tests.openapi_contract validates against.
    return fuzz_schema(IMPLEMENTED_PATHS)


@dataclass
class Seeded:
    """Objects that exist in the fuzzed app, by path parameter."""

    app: Starlette
    ids: dict[str, list[str]]
    training_file: str


def _seed_app() -> Seeded:
    app = create_app(Settings(memory=True, clock="manual", start_time=START, seed=11))
    service = app.state.service
    with seeding_client(app, FUZZ_KEY) as client:

        def post_file(name: str, purpose: str = "fine-tune") -> str:
            response = client.post(
                "/files", files={"file": (name, TRAIN)}, data={"purpose": purpose}
            )
            assert response.status_code == 200, response.text
            return str(response.json()["id"])

        def new_job(training_file: str) -> str:
            body = {"model": "gpt-4o-mini", "training_file": training_file, "suffix": "fz"}
            response = client.post("/fine_tuning/jobs", json=body)
            assert response.status_code == 200, response.text
            return str(response.json()["id"])

        def status(job_id: str) -> str:
            return str(client.get(f"/fine_tuning/jobs/{job_id}").json()["status"])

        def advance_until(job_id: str, wanted: str) -> None:
            for _ in range(2000):
                if status(job_id) == wanted:
                    return
                service.clock.advance(30)
            raise AssertionError(f"{job_id} never reached {wanted}")

        training = post_file("train.jsonl")
        other_file = post_file("notes.jsonl", "user_data")
        done = new_job(training)
        advance_until(done, "succeeded")
        running = new_job(training)
        advance_until(running, "running")
        paused = new_job(training)
        advance_until(paused, "running")
        assert client.post(f"/fine_tuning/jobs/{paused}/pause").status_code == 200
        validating = new_job(training)
        model = str(client.get(f"/fine_tuning/jobs/{done}").json()["fine_tuned_model"])
        checkpoints = client.get(f"/fine_tuning/jobs/{done}/checkpoints").json()["data"]
        upload = client.post(
            "/uploads",
            json={
                "filename": "big.jsonl",
                "purpose": "fine-tune",
                "bytes": len(TRAIN),
                "mime_type": "text/jsonl",
            },
        ).json()["id"]
        ids = {
            "file_id": [training, other_file],
            "fine_tuning_job_id": [done, running, paused, validating],
            "upload_id": [upload],
            "model": [model, checkpoints[0]["fine_tuned_model_checkpoint"], "gpt-4o-mini"],
        }
        return Seeded(app, ids, training)


@dataclass
class Findings:
    cases: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    violations: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, detail: str) -> None:
        examples = self.violations.setdefault(kind, [])
        if len(examples) < 3:
            examples.append(detail)
        else:
            examples.append("")  # counted, not repeated

    def report(self) -> str:
        lines = []
        for kind, examples in self.violations.items():
            lines.append(f"- {kind}: {len(examples)} case(s)")
            lines += [f"    {e}" for e in examples if e]
        return "\n".join(lines)


def _header(response: Any, name: str) -> str | None:
    value = response.headers.get(name)
    if isinstance(value, list):
        return str(value[0]) if value else None
    return None if value is None else str(value)


def _examine(case: Any, response: Any, findings: Findings) -> None:
    status = response.status_code
    request = response.request
    where = f"{request.method} {request.url} -> {status}"
    findings.statuses[status] += 1
    content_type = _header(response, "content-type")
    try:  # the three at once (each call costs schemathesis a config lookup); nearly all pass
        case.validate_response(response, checks=list(SCHEMATHESIS_CHECKS))
    except BaseException:  # schemathesis raises FailureGroup
        for check in SCHEMATHESIS_CHECKS:  # again one by one, to say which failed
            try:
                case.validate_response(response, checks=[check])
            except BaseException as failure:
                lines = [line.strip() for line in str(failure).splitlines() if line.strip()]
                findings.add(f"schemathesis {check.__name__}", f"{where}: {' | '.join(lines[1:4])}")
    body: Any = response.content
    if content_type is None or "json" in content_type:
        try:
            body = strict_json(response.content)
        except ValueError as error:
            findings.add("body is not strict JSON", f"{where}: {error}: {response.content[:200]!r}")
            return
    for violation in response_violations(request.method, request.url, status, body, content_type):
        findings.add("spec (tests.openapi_contract)", f"{where}: {violation}")
    request_id = _header(response, "x-request-id")
    if request_id is None or not REQUEST_ID.match(request_id):
        findings.add("x-request-id", f"{where}: {request_id!r}")


def _strategy(operation: Any, seeded: Seeded) -> Any:
    """Generated ids and real ones; positive and negative data."""
    parameters = [p.name for p in operation.path_parameters]
    strategies = [
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    ]
    if parameters:
        (name,) = parameters
        for real in seeded.ids[name]:
            fixed = {name: real}
            strategies.append(
                operation.as_strategy(
                    generation_mode=GenerationMode.POSITIVE, path_parameters=fixed
                )
            )
            if operation.body or operation.query:  # something else left to make invalid
                strategies.append(
                    operation.as_strategy(
                        generation_mode=GenerationMode.NEGATIVE, path_parameters=fixed
                    )
                )
    return st.one_of(strategies)


def test_fuzzed_operations_are_exactly_the_implemented_ones() -> None:
    found = {
        (result.ok().method.upper(), result.ok().path) for result in _schema().get_all_operations()
    }
    assert found == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_schemathesis(method: str, path: str) -> None:
    operation = _schema()[path][method]
    seeded = _seed_app()
    findings = Findings()
    with fuzzing_session(seeded.app) as session:

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],  # failures are collected, not shrunk
            suppress_health_check=list(HealthCheck),
        )
        @given(case=_strategy(operation, seeded), real_training_file=st.booleans())
        def run(case: Any, real_training_file: bool) -> None:
            # Every case is authenticated; what is fuzzed is the operation's own input.
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {FUZZ_KEY}"}
            if real_training_file and isinstance(case.body, dict) and "training_file" in case.body:
                case.body["training_file"] = seeded.training_file  # reach job creation
            response = case.call(session=session)
            findings.cases[case.operation.label] += 1
            _examine(case, response, findings)

        run()
    total = sum(findings.cases.values())
    assert not findings.violations, (
        f"{total} cases of {method} {path}, statuses {dict(findings.statuses)}:\n"
        + findings.report()
    )
    assert total >= MIN_CASES_PER_OPERATION, (total, dict(findings.statuses))


# --- part 2: hostile corpus against a live server -----------------------------------------------
# One server for the module (a server per case would cost more than the cases); each test
# checks what it changed, not that the server is empty.


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Live: some cases send raw bytes over a socket."""
    with live_server(make_settings(tmp_path_factory.mktemp("hostile"))) as live:
        yield live


@pytest.fixture(scope="module")
def http(server: Server) -> Iterator[httpx.Client]:
    """Raw HTTP; every response is checked against the spec (the conftest hook)."""
    with checked_http(server) as client:
        yield client


def envelope(response: httpx.Response, status: int | tuple[int, ...] = 400) -> dict[str, Any]:
    """The response is the error envelope with that status (the `http` fixture has already
    checked it against the spec); returns `error`."""
    statuses = (status,) if isinstance(status, int) else status
    assert response.status_code in statuses, (response.status_code, response.text[:500])
    body = strict_json(response.content)
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


def multipart(parts: list[tuple[bytes, bytes]], boundary: bytes = b"hostile") -> bytes:
    """`parts` are (headers, content); no validation at all."""
    out = b""
    for headers, content in parts:
        out += b"--" + boundary + b"\r\n" + headers + b"\r\n\r\n" + content + b"\r\n"
    return out + b"--" + boundary + b"--\r\n"


def disposition(name: bytes, filename: bytes | None = None) -> bytes:
    value = b'Content-Disposition: form-data; name="' + name + b'"'
    if filename is not None:
        value += b'; filename="' + filename + b'"'
    return value


PURPOSE = (disposition(b"purpose"), b"fine-tune")
MULTIPART = {"content-type": "multipart/form-data; boundary=hostile"}


def post_files(http: httpx.Client, body: bytes, headers: dict[str, str] = MULTIPART) -> Any:
    return http.post("/files", content=body, headers=headers)


def file_ids(http: httpx.Client) -> list[str]:
    return [f["id"] for f in http.get("/files", params={"limit": 10000}).json()["data"]]


def stray_files(server: Server) -> list[Path]:
    """Anything under the data dir that is not the database or a committed blob (a file, or
    the directory of segments of a composed one)."""
    data_dir = server.settings.data_dir
    allowed_db = {"mockft.sqlite3", "mockft.sqlite3-wal", "mockft.sqlite3-shm", "mockft.lock"}
    strays = []
    for path in data_dir.rglob("*"):
        relative = path.relative_to(data_dir)
        if path.is_dir() and relative.parts in {("blobs",), ("blobs", ".partial")}:
            continue
        if relative.parts[0] in allowed_db and len(relative.parts) == 1:
            continue
        if len(relative.parts) >= 2 and relative.parts[0] == "blobs":
            # a File's or Part's bytes, or what a job's models learned
            blob = re.fullmatch(
                r"file-[A-Za-z0-9]{22}|(part_|ftjob-)[A-Za-z0-9]{24}", relative.parts[1]
            )
            if blob and len(relative.parts) == 2:
                continue
            # a File composed of an Upload's parts: a directory of numbered segments
            if blob and len(relative.parts) == 3 and re.fullmatch(r"\d{6}", relative.parts[2]):
                continue
        strays.append(relative)
    return strays


MALFORMED_MULTIPART: list[tuple[str, dict[str, str], bytes]] = [
    ("no boundary", {"content-type": "multipart/form-data"}, b"--x\r\n\r\n"),
    ("empty boundary", {"content-type": "multipart/form-data; boundary="}, b"----\r\n"),
    ("garbage body", MULTIPART, b"\x00\xff" * 500),
    ("empty body", MULTIPART, b""),
    ("only the closing boundary", MULTIPART, b"--hostile--\r\n"),
    ("wrong boundary", MULTIPART, multipart([PURPOSE], boundary=b"other")),
    (
        "no closing boundary",
        MULTIPART,
        multipart([PURPOSE, (disposition(b"file", b"a.jsonl"), TRAIN)]).removesuffix(
            b"--hostile--\r\n"
        ),
    ),
    (
        "cut inside the file part",
        MULTIPART,
        multipart([PURPOSE, (disposition(b"file", b"a.jsonl"), TRAIN)])[:-200],
    ),
    ("part without name", MULTIPART, multipart([(b"Content-Disposition: form-data", b"x")])),
    ("part without headers", MULTIPART, b"--hostile\r\n\r\nbody\r\n--hostile--\r\n"),
    (
        "header line without colon",
        MULTIPART,
        b"--hostile\r\nnot a header\r\n\r\nx\r\n--hostile--\r\n",
    ),
    ("huge header", MULTIPART, multipart([(b"X-Big: " + b"a" * 200_000, b"x"), PURPOSE])),
    (
        "purpose field not UTF-8",
        MULTIPART,
        multipart([(disposition(b"purpose"), b"\xff\xfe"), (disposition(b"file", b"a"), TRAIN)]),
    ),
    (
        "huge purpose field",
        MULTIPART,
        multipart([(disposition(b"purpose"), b"f" * 1_000_000), (disposition(b"file", b"a"), b"")]),
    ),
    (
        "two files",
        MULTIPART,
        multipart(
            [
                PURPOSE,
                (disposition(b"file", b"a.jsonl"), TRAIN),
                (disposition(b"file", b"b.jsonl"), TRAIN),
            ]
        ),
    ),
    ("file as a plain field", MULTIPART, multipart([PURPOSE, (disposition(b"file"), TRAIN)])),
    ("no file", MULTIPART, multipart([PURPOSE])),
    ("no purpose", MULTIPART, multipart([(disposition(b"file", b"a.jsonl"), TRAIN)])),
    (
        "unknown purpose",
        MULTIPART,
        multipart([(disposition(b"purpose"), b"../x"), (disposition(b"file", b"a.jsonl"), TRAIN)]),
    ),
    (
        "too many fields",
        MULTIPART,
        multipart([(disposition(b"f%d" % i), b"v") for i in range(150)] + [PURPOSE]),
    ),
    (
        "fine-tune file that is not JSONL",
        MULTIPART,
        multipart([PURPOSE, (disposition(b"file", b"a.jsonl"), b"\xff\xfe\x00 not json\n")]),
    ),
    (
        "expires_after with text seconds",
        MULTIPART,
        multipart(
            [
                PURPOSE,
                (disposition(b"expires_after[anchor]"), b"created_at"),
                (disposition(b"expires_after[seconds]"), b"soon"),
                (disposition(b"file", b"a.jsonl"), TRAIN),
            ]
        ),
    ),
    ("JSON sent to a multipart endpoint", {"content-type": "application/json"}, b'{"a": 1}'),
    ("form-urlencoded", {"content-type": "application/x-www-form-urlencoded"}, b"purpose=x"),
    ("no content type", {}, b"purpose=fine-tune"),
    ("multipart/mixed", {"content-type": "multipart/mixed; boundary=hostile"}, b""),
]


@pytest.mark.parametrize(
    ("headers", "body"),
    [(h, b) for _, h, b in MALFORMED_MULTIPART],
    ids=[name for name, _, _ in MALFORMED_MULTIPART],
)
def test_malformed_multipart_is_a_400_and_leaves_nothing(
    http: httpx.Client, server: Server, headers: dict[str, str], body: bytes
) -> None:
    before = file_ids(http)
    envelope(post_files(http, body, headers))
    assert file_ids(http) == before
    assert stray_files(server) == []
    assert not any((server.settings.data_dir / "blobs" / ".partial").iterdir())


def test_malformed_upload_parts_are_a_400(http: httpx.Client, server: Server) -> None:
    upload = http.post(
        "/uploads",
        json={"filename": "a.jsonl", "purpose": "fine-tune", "bytes": 10, "mime_type": "x"},
    ).json()["id"]
    for _, headers, body in MALFORMED_MULTIPART[:12]:
        envelope(http.post(f"/uploads/{upload}/parts", content=body, headers=headers))
    extra = multipart([(disposition(b"data", b"blob"), b"0123456789"), (disposition(b"x"), b"1")])
    assert (
        envelope(http.post(f"/uploads/{upload}/parts", content=extra, headers=MULTIPART))["param"]
        == "x"
    )
    assert (
        envelope(http.post(f"/uploads/{upload}/complete", json={"part_ids": []}))["param"]
        == "part_ids"
    )
    assert stray_files(server) == []


TRAVERSAL_NAMES = [
    "../../../../../../tmp/mockft-traversal.jsonl",
    "..\\..\\..\\mockft-traversal.jsonl",
    "/etc/mockft-traversal.jsonl",
    "blobs/../../mockft-traversal.jsonl",
    "./.partial/mockft-traversal.jsonl",
    "%2e%2e%2fmockft-traversal.jsonl",
    "mockft.sqlite3.jsonl",
    "..",
    "a" * 250 + ".jsonl",  # as long as a name may be (longer is a 400: test_limits.py)
]


@pytest.mark.parametrize("name", TRAVERSAL_NAMES, ids=range(len(TRAVERSAL_NAMES)))
def test_filenames_are_echoed_never_used_as_paths(
    http: httpx.Client, server: Server, name: str
) -> None:
    purpose = "fine-tune" if name.endswith(".jsonl") else "batch"  # user_data: no download
    body = multipart(
        [(disposition(b"purpose"), purpose.encode()), (disposition(b"file", name.encode()), TRAIN)]
    )
    created = post_files(http, body).json()
    assert created["filename"] == name
    assert http.get(f"/files/{created['id']}").json()["filename"] == name
    assert http.get(f"/files/{created['id']}/content").content == TRAIN
    assert stray_files(server) == []
    # nothing named after the upload anywhere near the data dir or the working directory
    data_dir = server.settings.data_dir
    for root in (data_dir, data_dir.parent, data_dir.parent.parent, Path.cwd(), Path("/tmp")):
        assert not list(root.glob("mockft-traversal*")), root
    assert http.delete(f"/files/{created['id']}").json()["deleted"] is True
    assert stray_files(server) == []


def test_uploads_echo_hostile_filenames_without_touching_the_filesystem(
    http: httpx.Client, server: Server
) -> None:
    name = "../../../../tmp/mockft-traversal-upload.jsonl"
    upload = http.post(
        "/uploads",
        json={"filename": name, "purpose": "fine-tune", "bytes": len(TRAIN), "mime_type": "x"},
    ).json()
    part = http.post(
        f"/uploads/{upload['id']}/parts",
        content=multipart([(disposition(b"data", b"../../x"), TRAIN)]),
        headers=MULTIPART,
    ).json()
    done = http.post(f"/uploads/{upload['id']}/complete", json={"part_ids": [part["id"]]}).json()
    assert done["file"]["filename"] == name
    assert http.get(f"/files/{done['file']['id']}/content").content == TRAIN
    assert stray_files(server) == []
    data_dir = server.settings.data_dir
    for root in (data_dir, data_dir.parent, data_dir.parent.parent, Path("/tmp")):
        assert not list(root.glob("mockft-traversal*")), root


# Names a user's OS may well produce; each must upload and download again.
UNUSUAL_NAMES = [
    "données-训练.jsonl",  # not Latin-1
    "emoji-🚀.jsonl",
    'quote"name.jsonl',
    "semi;colon=1.jsonl",
    "tab\tname.jsonl",
]


@pytest.mark.parametrize("name", UNUSUAL_NAMES, ids=range(len(UNUSUAL_NAMES)))
def test_unusual_filenames_round_trip(http: httpx.Client, name: str) -> None:
    body = multipart([PURPOSE, (disposition(b"file", name.encode()), TRAIN)])
    created = post_files(http, body)
    assert created.status_code == 200, created.text
    file_id = created.json()["id"]
    download = http.get(f"/files/{file_id}/content")
    assert download.status_code == 200, download.text
    assert download.content == TRAIN


def test_filename_that_is_not_utf8_still_downloads(http: httpx.Client) -> None:
    body = multipart([PURPOSE, (disposition(b"file", b"\xff\xfe\xc3.jsonl"), TRAIN)])
    created = post_files(http, body)
    assert created.status_code == 200, created.text
    download = http.get(f"/files/{created.json()['id']}/content")
    assert download.status_code == 200, download.text
    assert download.content == TRAIN


JSON_HEADERS = {"content-type": "application/json"}
HOSTILE_JSON: list[tuple[str, bytes]] = [
    ("truncated", b'{"model": "gpt-4o-mini", "training_file": "file-'),
    ("empty", b""),
    ("not UTF-8", b'{"model": "\xff\xfe", "training_file": "x"}'),
    ("UTF-16", '{"model": "gpt-4o-mini"}'.encode("utf-16")),
    ("array", b"[1, 2, 3]"),
    ("null", b"null"),
    ("string", b'"hello"'),
    ("NaN", b'{"model": "gpt-4o-mini", "training_file": "x", "seed": NaN}'),
    ("deeply nested array", b"[" * 100_000 + b"]" * 100_000),
    ("deeply nested value", b'{"metadata": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
    (
        "huge number",
        b'{"model": "gpt-4o-mini", "training_file": "x", "seed": ' + b"9" * 5000 + b"}",
    ),
    ("huge string", b'{"model": "' + b"m" * 2_000_000 + b'", "training_file": "x"}'),
    ("duplicate keys", b'{"model": "a", "model": "gpt-4o-mini", "training_file": "x"}'),
    ("NUL in a value", b'{"model": "gpt-4o-mini\\u0000", "training_file": "x"}'),
    ("lone surrogate", b'{"model": "\\ud800", "training_file": "x"}'),
]


@pytest.mark.parametrize("body", [b for _, b in HOSTILE_JSON], ids=[n for n, _ in HOSTILE_JSON])
@pytest.mark.parametrize("path", ["/fine_tuning/jobs", "/uploads", "/uploads/upload_x/complete"])
def test_hostile_json_bodies_are_a_4xx(http: httpx.Client, path: str, body: bytes) -> None:
    envelope(http.post(path, content=body, headers=JSON_HEADERS), (400, 404))


@pytest.fixture
def own_http(tmp_path: Path) -> Iterator[httpx.Client]:
    """A server of the test's own, for tests whose leftovers (while the product accepts what
    they send) would break the shared one."""
    with in_process(make_settings(tmp_path)) as app, checked_http(app) as client:
        yield client


def test_non_finite_numbers_are_rejected_not_echoed(own_http: httpx.Client) -> None:
    """Python's json reads `Infinity`; the API must not accept it and then write it back
    (`Infinity` is not JSON: JSON.parse in the Node SDK throws on the response)."""
    file_id = post_files(own_http, multipart([PURPOSE, (disposition(b"file", b"t.jsonl"), TRAIN)]))
    training = file_id.json()["id"]
    for value in (b"Infinity", b"-Infinity", b"NaN"):
        body = (
            b'{"model": "gpt-4o-mini", "training_file": "%s", '
            b'"hyperparameters": {"learning_rate_multiplier": %s}}' % (training.encode(), value)
        )
        response = own_http.post("/fine_tuning/jobs", content=body, headers=JSON_HEADERS)
        strict_json(response.content)  # whatever the answer, it is JSON
        envelope(response)


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"content-type": "text/plain"}, b'{"model": "gpt-4o-mini", "training_file": "x"}'),
        ({"content-type": "multipart/form-data; boundary=x"}, b"--x--\r\n"),
        ({"content-type": "application/x-www-form-urlencoded"}, b"model=gpt-4o-mini"),
        ({}, b"model=gpt-4o-mini&training_file=x"),
    ],
    ids=["text/plain", "multipart", "urlencoded", "none"],
)
def test_wrong_content_types_on_json_endpoints(
    http: httpx.Client, headers: dict[str, str], body: bytes
) -> None:
    # The real API reads the body as JSON whatever the header says; either way: a 4xx envelope.
    envelope(http.post("/fine_tuning/jobs", content=body, headers=headers))


@pytest.mark.parametrize(
    ("limit", "code"),
    [
        ("-1", "integer_below_min_value"),
        ("0", "integer_below_min_value"),
        ("-99999999999999999999999999", "integer_below_min_value"),
        ("10001", "integer_above_max_value"),
        ("99999999999999999999999999999999", "integer_above_max_value"),
        ("1.5", "invalid_type"),
        ("ten", "invalid_type"),
        ("", "invalid_type"),
        ("0x10", "invalid_type"),
        ("١٢", None),  # Arabic-Indic digits: Python's int() reads them; the API must not 500
    ],
)
@pytest.mark.parametrize(
    "path",
    [
        "/files",
        "/fine_tuning/jobs",
        "/fine_tuning/jobs/{job}/events",
        "/fine_tuning/jobs/{job}/checkpoints",
    ],
)
def test_bad_limits(
    http: httpx.Client, job_id: str, path: str, limit: str, code: str | None
) -> None:
    response = http.get(path.format(job=job_id), params={"limit": limit})
    if code is None:
        assert response.status_code in (200, 400), response.text
        return
    error = envelope(response)
    assert (error["param"], error["code"]) == ("limit", code)


@pytest.fixture(scope="module")
def job_id(http: httpx.Client, server: Server) -> str:
    training = post_files(http, multipart([PURPOSE, (disposition(b"file", b"t.jsonl"), TRAIN)]))
    job = http.post(
        "/fine_tuning/jobs", json={"model": "gpt-4o-mini", "training_file": training.json()["id"]}
    ).json()
    server.advance(24 * 3600)  # the clock only ever moves forward: later jobs are unaffected
    assert http.get(f"/fine_tuning/jobs/{job['id']}").json()["status"] == "succeeded"
    return str(job["id"])


BOGUS_CURSORS = [
    "file-000000000000000000000000",
    "ftjob-000000000000000000000000",
    "../../etc/passwd",
    "' OR 1=1 --",
    "ü" * 3000,
    "\x00",
    "😀",
]


@pytest.mark.parametrize("cursor", BOGUS_CURSORS, ids=range(len(BOGUS_CURSORS)))
def test_bogus_cursors_give_an_empty_page(http: httpx.Client, job_id: str, cursor: str) -> None:
    for path in (
        "/files",
        "/fine_tuning/jobs",
        f"/fine_tuning/jobs/{job_id}/events",
        f"/fine_tuning/jobs/{job_id}/checkpoints",
    ):
        response = http.get(path, params={"after": cursor})
        assert response.status_code == 200, (path, response.text)
        body = strict_json(response.content)
        assert (body["data"], body["has_more"]) == ([], False), path


def test_a_cursor_of_another_kind_is_not_a_position(http: httpx.Client, job_id: str) -> None:
    # A job id used as a files cursor (or the other way round) is an unknown cursor.
    assert http.get("/files", params={"after": job_id}).json()["data"] == []
    file_id = file_ids(http)[0]
    assert http.get("/fine_tuning/jobs", params={"after": file_id}).json()["data"] == []


UNICODE_IDS = ["файл-😀", "file-\u202etxt", "ftjob-ÄÖÜ", "%00", "a%00b", "..", "ft:é:ü::ß"]


@pytest.mark.parametrize("raw_id", UNICODE_IDS, ids=range(len(UNICODE_IDS)))
def test_unicode_and_odd_ids_are_a_404(http: httpx.Client, raw_id: str) -> None:
    quoted = httpx.URL("/x/" + raw_id).raw_path.decode().removeprefix("/x/")
    requests = [
        ("GET", f"/files/{quoted}"),
        ("DELETE", f"/files/{quoted}"),
        ("GET", f"/files/{quoted}/content"),
        ("GET", f"/fine_tuning/jobs/{quoted}"),
        ("POST", f"/fine_tuning/jobs/{quoted}/cancel"),
        ("POST", f"/fine_tuning/jobs/{quoted}/pause"),
        ("GET", f"/fine_tuning/jobs/{quoted}/events"),
        ("GET", f"/models/{quoted}"),
        ("DELETE", f"/models/{quoted}"),
        ("POST", f"/uploads/{quoted}/cancel"),
    ]
    for method, path in requests:
        envelope(http.request(method, path), 404)


def test_very_long_urls(http: httpx.Client, server: Server) -> None:
    for size in (1_000, 8_000, 30_000):
        envelope(http.get("/files/file-" + "a" * size), 404)
        response = http.get("/files", params={"after": "x" * size})
        assert response.status_code == 200 and response.json()["data"] == []
    # beyond what the HTTP parser takes: refused at the door, and the server lives on
    status, _ = raw_request(server, b"GET /v1/files/" + b"a" * 200_000 + b" HTTP/1.1\r\n\r\n")
    assert status is None or 400 <= status < 500
    assert http.get("/files").status_code == 200


def test_duplicate_query_parameters(http: httpx.Client, job_id: str) -> None:
    for path in ("/files", "/fine_tuning/jobs", f"/fine_tuning/jobs/{job_id}/events"):
        response = http.get(f"{path}?limit=1&limit=2&after=&after=")
        assert response.status_code == 200
        # one of the two values wins, the same one every time
        again = http.get(f"{path}?limit=1&limit=2&after=&after=")
        assert len(response.json()["data"]) in (1, 2)
        assert response.json() == again.json()
    both = http.get("/files?limit=0&limit=5")
    assert both.status_code in (200, 400)
    metadata = http.get("/fine_tuning/jobs?metadata[k]=a&metadata[k]=b&metadata[]=&metadata=null")
    assert metadata.status_code == 200 and metadata.json()["data"] == []


@pytest.mark.parametrize(
    "authorization",
    [
        b"",
        b"Bearer",
        b"Bearer ",
        b"Bearer    ",
        b"Basic dXNlcjpwYXNz",
        b"Token sk-x",
        b"B" * 9_000,
    ],
    ids=["empty", "bare", "blank key", "spaces", "basic", "token", "huge"],
)
def test_garbage_auth_headers_are_a_401(server: Server, authorization: bytes) -> None:
    request = b"GET /v1/files HTTP/1.1\r\nHost: x\r\nAuthorization: " + authorization
    status, body = raw_request(server, request + b"\r\nConnection: close\r\n\r\n")
    assert status == 401, body[:300]
    error = strict_json(body)["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert schema_violations("ErrorResponse", {"error": error}) == []


@pytest.mark.parametrize(
    "authorization", [b"Bearer \xe9\xe8", b"bearer\tk", b"BEARER k"], ids=["latin-1", "tab", "caps"]
)
def test_odd_but_present_keys_are_not_a_5xx(server: Server, authorization: bytes) -> None:
    # Any key is accepted by default: either a 200 or a 401, never a server error.
    request = b"GET /v1/files HTTP/1.1\r\nHost: x\r\nAuthorization: " + authorization
    status, body = raw_request(server, request + b"\r\nConnection: close\r\n\r\n")
    assert status in (200, 401), body[:300]
    strict_json(body)


def raw_request(server: Server, data: bytes) -> tuple[int | None, bytes]:
    """Send bytes as they are, then end the request; the status code (None if the server
    hung up without one) and the body."""
    host, port = server.settings.host, server.settings.port
    received = b""
    with socket.create_connection((host, port), timeout=10) as conn:
        try:
            conn.sendall(data)
            conn.shutdown(socket.SHUT_WR)
            while chunk := conn.recv(65536):
                received += chunk
        except OSError:  # the server may refuse and close before all was sent
            pass
    match = re.match(rb"HTTP/1\.1 (\d{3})", received)
    return (int(match.group(1)) if match else None), received.partition(b"\r\n\r\n")[2]


@pytest.mark.parametrize(
    "cut",
    [10, 300, 5_000],
    ids=["in the headers of a part", "in the purpose", "in the file"],
)
def test_truncated_multipart_stream_leaves_nothing(
    http: httpx.Client, server: Server, cut: int
) -> None:
    body = multipart([PURPOSE, (disposition(b"file", b"a.jsonl"), TRAIN * 4)])
    head = (
        b"POST /v1/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
        b"Content-Type: multipart/form-data; boundary=hostile\r\n"
        + b"Content-Length: %d\r\n\r\n"
        % len(body)
    )
    before = file_ids(http)
    status, _ = raw_request(server, head + body[:cut])
    assert status is None or 400 <= status < 500  # never acknowledged
    # The client may be gone before the server has read what it sent (a loaded machine):
    # a partial blob may still appear, and must then go.
    partial = server.settings.data_dir / "blobs" / ".partial"
    deadline = time.monotonic() + 10
    while any(partial.iterdir()) or stray_files(server):
        assert time.monotonic() < deadline, f"left behind: {stray_files(server)}"
        time.sleep(0.01)
    assert file_ids(http) == before


def test_truncated_json_stream(http: httpx.Client, server: Server) -> None:
    body = b'{"model": "gpt-4o-mini", "training_file": "file-x"}'
    head = (
        b"POST /v1/fine_tuning/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
        b"Content-Type: application/json\r\n" + b"Content-Length: %d\r\n\r\n" % len(body)
    )
    before = http.get("/fine_tuning/jobs").json()["data"]
    status, _ = raw_request(server, head + body[:20])
    assert status is None or 400 <= status < 500
    assert http.get("/fine_tuning/jobs").json()["data"] == before


def test_a_job_with_non_finite_input_does_not_poison_the_job_list(
    own_http: httpx.Client,
) -> None:
    """Once stored, a job holding `Infinity` (which Python's json writes and SQLite's JSON
    functions refuse) must not break filtering the job list by metadata."""
    training = post_files(own_http, multipart([PURPOSE, (disposition(b"file", b"t.jsonl"), TRAIN)]))
    body = (
        b'{"model": "gpt-4o-mini", "training_file": "%s", "metadata": {"poison": "yes"}, '
        b'"hyperparameters": {"learning_rate_multiplier": 1e999}}' % training.json()["id"].encode()
    )
    own_http.post("/fine_tuning/jobs", content=body, headers=JSON_HEADERS)  # 1e999 reads as inf
    response = own_http.get("/fine_tuning/jobs", params={"metadata[poison]": "yes"})
    assert response.status_code == 200, response.text
    strict_json(response.content)


@pytest.mark.parametrize(
    "lines",
    [b"".join(b'{"text": "example %d"}\n' % i for i in range(12)), TRAIN + b'{"pre": 1}\n'],
    ids=["all unknown", "one unknown"],
)
def test_a_training_file_of_unknown_examples_is_not_a_500(http: httpx.Client, lines: bytes) -> None:
    """Every line a JSON object, but not of a known example format (chat, prompt /
    completion, preference): the job is refused or fails validation, never a 500."""
    created = post_files(http, multipart([PURPOSE, (disposition(b"file", b"u.jsonl"), lines)]))
    if created.status_code != 200:
        envelope(created)
        return
    response = http.post(
        "/fine_tuning/jobs", json={"model": "gpt-4o-mini", "training_file": created.json()["id"]}
    )
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        envelope(response)


def test_error_bodies_of_unknown_routes_and_methods(http: httpx.Client) -> None:
    for method, path in [
        ("PUT", "/files"),
        ("PATCH", "/fine_tuning/jobs"),
        ("GET", "/files/x/y/z"),
        ("POST", "/models"),
        ("GET", "/nope"),
        ("GET", "/fine_tuning/checkpoints/x"),
    ]:
        error = envelope(http.request(method, path), (404, 405))
        assert path.split("/")[1] in error["message"]


def test_schema_violation_helper_sees_envelopes() -> None:
    # guard against a vacuous helper: a malformed envelope is reported
    assert schema_violations("ErrorResponse", {"error": {"message": "x"}}) != []
