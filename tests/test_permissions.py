"""Checkpoint permissions with the unchanged official SDK: an admin key grants a fine-tuned
checkpoint to projects (its own organization's, or another's), a key of a granted project
calls the model and sees it, a project without a grant gets the 404 of a model it cannot see,
grants are listed and deleted, and a non-admin key is refused. Every response through the
SDK is checked against the spec; schemathesis fuzzes the three operations."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance

from mockft import errors
from mockft.app import create_app
from mockft.config import Settings
from tests.conftest import (
    FIXTURES,
    START,
    Server,
    checked_http,
    checked_sdk,
    in_process,
    make_settings,
)
from tests.fidelity.conftest import capture
from tests.fuzzing import fuzz_schema, fuzzing_session, seeding_client
from tests.openapi_contract import load_spec, response_violations

ALPHA = "sk-alpha-proj-a-0123456789"  # organization alpha, project proj_a
ALPHA_USER = "sk-alpha-user-0123456789"  # organization alpha, no project (a user key)
BETA = "sk-beta-proj-b-0123456789"  # organization beta, project proj_b
BETA_OTHER = "sk-beta-proj-c-0123456789"  # organization beta, project proj_c
ADMIN = "sk-admin-alpha-0123456789"  # alpha's admin key
BETA_ADMIN = "sk-admin-beta-0123456789"
PERMISSION_ID = re.compile(r"^cp_[0-9A-Za-z]{24}$")
MISSING_SCOPES = "You have insufficient permissions for this operation. Missing scopes: "
TRAIN = FIXTURES / "train_chat.jsonl"
PROMPT = [{"role": "user", "content": "Say something."}]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The app in this process (nothing here needs a socket); the SDK clients `sdk` makes
    close with it."""
    settings = make_settings(
        tmp_path_factory.mktemp("permissions"),
        api_keys=(
            f"{ALPHA}=alpha/proj_a",
            f"{ALPHA_USER}=alpha",
            f"{BETA}=beta/proj_b",
            f"{BETA_OTHER}=beta/proj_c",
        ),
        admin_keys=(f"{ADMIN}=alpha", f"{BETA_ADMIN}=beta"),
    )
    with in_process(settings) as handle:
        yield handle


def sdk(server: Server, key: str, **kwargs: Any) -> openai.OpenAI:
    """The unchanged SDK with this key (closed when the module's server stops); every
    response it gets is checked against the spec."""
    return checked_sdk(server, api_key=key, **kwargs)


@pytest.fixture(scope="module")
def checkpoints(server: Server) -> list[str]:
    """The checkpoint models of a job alpha's project key ran to success (newest first: the
    fine-tuned model itself, then the earlier epochs')."""
    alpha = sdk(server, ALPHA)
    file = alpha.files.create(file=("t.jsonl", TRAIN.read_bytes()), purpose="fine-tune")
    job = alpha.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file.id)
    for _ in range(200):
        if alpha.fine_tuning.jobs.retrieve(job.id).status == "succeeded":
            break
        server.advance(600)
    listed = alpha.fine_tuning.jobs.checkpoints.list(job.id)
    return [c.fine_tuned_model_checkpoint for c in listed.data]


def chat(client: openai.OpenAI, model: str) -> str:
    answer = client.chat.completions.create(model=model, messages=PROMPT)  # type: ignore[arg-type]
    return str(answer.model)


def test_a_grant_lets_another_organizations_project_call_the_checkpoint(
    server: Server, checkpoints: list[str]
) -> None:
    checkpoint = checkpoints[-1]  # an earlier epoch's `:ckpt-step-N` model
    assert ":ckpt-step-" in checkpoint
    admin, beta, beta_other = sdk(server, ADMIN), sdk(server, BETA), sdk(server, BETA_OTHER)
    with pytest.raises(openai.NotFoundError) as before:
        chat(beta, checkpoint)
    assert before.value.body == {  # type: ignore[comparison-overlap]
        "message": f"The model `{checkpoint}` does not exist or you do not have access to it.",
        "type": "invalid_request_error",
        "param": None,
        "code": "model_not_found",
    }

    granted = admin.fine_tuning.checkpoints.permissions.create(checkpoint, project_ids=["proj_b"])
    (permission,) = granted.data
    assert PERMISSION_ID.match(permission.id)
    assert (permission.object, permission.project_id) == ("checkpoint.permission", "proj_b")
    assert permission.created_at == int(server.service.clock.now())

    assert chat(beta, checkpoint) == checkpoint
    assert beta.models.retrieve(checkpoint).owned_by == alpha_org_id(server)
    assert checkpoint in {m.id for m in beta.models.list()}
    with pytest.raises(openai.NotFoundError) as other:
        chat(beta_other, checkpoint)  # the same organization, a project without a grant
    assert other.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError):
        beta_other.models.retrieve(checkpoint)

    deleted = admin.fine_tuning.checkpoints.permissions.delete(
        permission.id, fine_tuned_model_checkpoint=checkpoint
    )
    assert (deleted.id, deleted.object, deleted.deleted) == (
        permission.id,
        "checkpoint.permission",
        True,
    )
    with pytest.raises(openai.NotFoundError):
        chat(beta, checkpoint)
    assert checkpoint not in {m.id for m in beta.models.list()}


def message(error: openai.APIStatusError) -> str:
    """The error's `message` as the server sent it (the SDK lines word `str()` apart)."""
    body = error.body
    return str(body["message"]) if isinstance(body, dict) else ""


def one_page(permissions: Any, checkpoint: str, **query: Any) -> Any:
    """One page of a checkpoint's grants: `list` where the SDK has it (2.x, 3.x; 3.x deprecates
    `retrieve`), else `retrieve` (1.x)."""
    if hasattr(permissions, "list"):
        return permissions.list(checkpoint, **query)
    return permissions.retrieve(checkpoint, **query)


def alpha_org_id(server: Server) -> str:
    return server.service.keys.authenticate(f"Bearer {ALPHA}").id


def test_grants_are_listed_filtered_and_paged(server: Server, checkpoints: list[str]) -> None:
    checkpoint = checkpoints[0]  # the fine-tuned model itself
    admin = sdk(server, ADMIN)
    made = admin.fine_tuning.checkpoints.permissions.create(
        checkpoint, project_ids=["proj_p1", "proj_p2", "proj_p3"]
    )
    ids = [p.id for p in made.data]
    assert [p.project_id for p in made.data] == ["proj_p1", "proj_p2", "proj_p3"]
    assert (made.first_id, made.last_id, made.has_more) == (ids[0], ids[-1], False)
    again = admin.fine_tuning.checkpoints.permissions.create(checkpoint, project_ids=["proj_p2"])
    assert [p.id for p in again.data] == [ids[1]]  # a project holds one grant per checkpoint

    permissions = admin.fine_tuning.checkpoints.permissions
    listed = one_page(permissions, checkpoint)
    assert [p.id for p in listed.data] == ids[::-1]  # newest first by default
    oldest = one_page(permissions, checkpoint, order="ascending", limit=2)
    assert [p.id for p in oldest.data] == ids[:2] and oldest.has_more is True
    rest = one_page(permissions, checkpoint, order="ascending", after=ids[1])
    assert [p.id for p in rest.data] == ids[2:] and rest.has_more is False
    one = one_page(permissions, checkpoint, project_id="proj_p3")
    assert [p.project_id for p in one.data] == ["proj_p3"]
    if hasattr(permissions, "list"):  # openai 2.x, 3.x: the list pages by itself
        assert [p.id for p in permissions.list(checkpoint, limit=1)] == ids[::-1]
    for permission_id in ids:
        permissions.delete(permission_id, fine_tuned_model_checkpoint=checkpoint)
    assert one_page(permissions, checkpoint).data == []
    with pytest.raises(openai.NotFoundError) as gone:
        permissions.delete(ids[0], fine_tuned_model_checkpoint=checkpoint)
    assert gone.value.body["param"] == "permission_id"  # type: ignore[index]


def test_a_key_that_is_not_an_admin_key_is_refused(server: Server, checkpoints: list[str]) -> None:
    for key in (ALPHA, ALPHA_USER):
        permissions = sdk(server, key).fine_tuning.checkpoints.permissions
        with pytest.raises(openai.AuthenticationError) as refused:
            permissions.create(checkpoints[0], project_ids=["proj_b"])
        assert refused.value.status_code == 401
        assert message(refused.value) == (
            MISSING_SCOPES + "api.fine_tuning.checkpoints.write. " + errors.SCOPE_HINT
        )
        with pytest.raises(openai.AuthenticationError) as reading:
            one_page(permissions, checkpoints[0])
        assert message(reading.value).startswith(
            MISSING_SCOPES + "api.fine_tuning.checkpoints.read."
        )
    assert chat(sdk(server, ALPHA), checkpoints[0]) == checkpoints[0]  # nothing was granted


def test_an_admin_key_is_refused_elsewhere(server: Server, checkpoints: list[str]) -> None:
    admin = sdk(server, ADMIN)
    with pytest.raises(openai.AuthenticationError) as calling:
        chat(admin, checkpoints[0])
    assert message(calling.value).startswith(MISSING_SCOPES + "model.request.")
    with pytest.raises(openai.AuthenticationError) as listing:
        admin.models.list()
    assert message(listing.value).startswith(MISSING_SCOPES + "api.model.read.")


def test_only_the_owning_organizations_admin_may_grant(
    server: Server, checkpoints: list[str]
) -> None:
    beta_admin = sdk(server, BETA_ADMIN).fine_tuning.checkpoints.permissions
    with pytest.raises(openai.NotFoundError):
        beta_admin.create(checkpoints[0], project_ids=["proj_b"])
    with pytest.raises(openai.NotFoundError):
        one_page(beta_admin, checkpoints[0])
    with pytest.raises(openai.NotFoundError):  # a base model is nobody's to grant
        sdk(server, ADMIN).fine_tuning.checkpoints.permissions.create(
            "gpt-4o-mini-2024-07-18", project_ids=["proj_b"]
        )


def test_the_owning_project_cannot_be_granted_its_own_model(
    server: Server, checkpoints: list[str]
) -> None:
    """The job ran in alpha's project proj_a (a project key made it): its models belong to
    proj_a, and a grant naming proj_a is refused with the real 400 (the terraform provider's
    capture), the fine-tuned model and an earlier epoch's checkpoint alike, with nothing
    granted to the other projects of the same call."""
    real = capture("issues/platform.json")["quotes"]["owning_project"]
    admin = sdk(server, ADMIN).fine_tuning.checkpoints.permissions
    for checkpoint in (checkpoints[0], checkpoints[-1]):
        with pytest.raises(openai.BadRequestError) as refused:
            admin.create(checkpoint, project_ids=["proj_c", "proj_a"])
        assert refused.value.status_code == real["status"]
        expected = real["message"].replace("proj_xyz123", "proj_a")
        assert refused.value.body == {  # type: ignore[comparison-overlap]
            "message": expected,
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
        assert [p.project_id for p in one_page(admin, checkpoint).data] == []


def test_a_model_made_without_a_project_may_be_granted_to_any_project(
    server: Server,
) -> None:
    """A user key acts in its organization's default project, which has no id of its own
    here: every named project may be granted its models."""
    user = sdk(server, ALPHA_USER)
    file = user.files.create(file=("t.jsonl", TRAIN.read_bytes()), purpose="fine-tune")
    job = user.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file.id)
    while (done := user.fine_tuning.jobs.retrieve(job.id)).status != "succeeded":
        server.advance(600)
    model = str(done.fine_tuned_model)
    admin = sdk(server, ADMIN).fine_tuning.checkpoints.permissions
    granted = admin.create(model, project_ids=["proj_a"])
    assert [p.project_id for p in granted.data] == ["proj_a"]
    admin.delete(granted.data[0].id, fine_tuned_model_checkpoint=model)


def test_a_project_of_the_owning_organization_already_sees_its_models(
    server: Server, checkpoints: list[str]
) -> None:
    """Objects belong to organizations (as everywhere in mockft): a user key selecting
    another project of alpha with `OpenAI-Project` calls alpha's models without a grant."""
    user = sdk(server, ALPHA_USER, project="proj_a")
    assert chat(user, checkpoints[0]) == checkpoints[0]


def test_bad_requests_are_refused_in_the_api_words(server: Server, checkpoints: list[str]) -> None:
    url = f"{server.base_url}/fine_tuning/checkpoints/{checkpoints[0]}/permissions"
    cases: list[tuple[dict[str, Any], str, str | None]] = [
        ({}, "project_ids", "missing_required_parameter"),
        ({"project_ids": []}, "project_ids", "empty_array"),
        ({"project_ids": "proj_b"}, "project_ids", "invalid_type"),
        ({"project_ids": ["proj_b"], "extra": 1}, "extra", None),
    ]
    with checked_http(server, ADMIN) as http:
        for body, param, code in cases:
            refused = http.post(url, json=body)
            assert refused.status_code == 400, refused.text
            assert (refused.json()["error"]["param"], refused.json()["error"]["code"]) == (
                param,
                code,
            )
        wrong_order = http.get(url, params={"order": "asc"})
        assert wrong_order.status_code == 400
        assert "'ascending' and 'descending'" in wrong_order.json()["error"]["message"]


# --- schemathesis over the three operations ---------------------------------------------------

OPERATIONS = (
    ("POST", "/fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions"),
    ("GET", "/fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions"),
    (
        "DELETE",
        "/fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions/{permission_id}",
    ),
)
FUZZ_ADMIN = "sk-fuzz-admin-0123456789"
FUZZ_KEY = "sk-fuzz-0123456789"
EXAMPLES = 60


def _seeded() -> tuple[Any, dict[str, list[str]]]:
    """An app with a fine-tuned model, one grant of it, and an admin key."""
    app = create_app(
        Settings(
            memory=True,
            clock="manual",
            start_time=START,
            seed=3,
            api_keys=(f"{FUZZ_KEY}=fuzz/proj_f",),
            admin_keys=(f"{FUZZ_ADMIN}=fuzz",),
        )
    )
    service = app.state.service
    with seeding_client(app, FUZZ_KEY) as user:
        file = user.post(
            "/files", files={"file": ("t.jsonl", TRAIN.read_bytes())}, data={"purpose": "fine-tune"}
        ).json()
        job = user.post(
            "/fine_tuning/jobs", json={"model": "gpt-4o-mini", "training_file": file["id"]}
        ).json()
        for _ in range(200):
            if user.get(f"/fine_tuning/jobs/{job['id']}").json()["status"] == "succeeded":
                break
            service.clock.advance(600)
        model = user.get(f"/fine_tuning/jobs/{job['id']}").json()["fine_tuned_model"]
        granted = user.post(
            f"/fine_tuning/checkpoints/{model}/permissions",
            json={"project_ids": ["proj_x"]},
            headers=_bearer(FUZZ_ADMIN),
        ).json()
    ids = {
        "fine_tuned_model_checkpoint": [model],
        "permission_id": [granted["data"][0]["id"]],
    }
    return app, ids


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[m for m, _ in OPERATIONS])
def test_schemathesis(method: str, path: str) -> None:
    operation = fuzz_schema(r"^/fine_tuning/checkpoints/")[path][method]
    app, ids = _seeded()
    fixed = {name: ids[name][0] for name in (p.name for p in operation.path_parameters)}
    strategies = [
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters=fixed),
    ]
    problems: list[str] = []
    statuses: Counter[int] = Counter()
    with fuzzing_session(app) as session:

        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=st.one_of(strategies), key=st.sampled_from([FUZZ_ADMIN, FUZZ_KEY]))
        def run(case: Any, key: str) -> None:
            case.headers = {**(case.headers or {}), **_bearer(key)}
            response = case.call(session=session)
            statuses[response.status_code] += 1
            where = f"{response.request.method} {response.request.url} -> {response.status_code}"
            for check in (not_a_server_error, response_schema_conformance):
                try:
                    case.validate_response(response, checks=[check])
                except BaseException as failure:
                    problems.append(f"{where}: {check.__name__}: {str(failure)[:300]}")
            body = response.json() if response.content else None
            content_type = response.headers.get("content-type")
            if isinstance(content_type, list):  # schemathesis keeps every value of a header
                content_type = content_type[0] if content_type else None
            for violation in response_violations(
                response.request.method,
                response.request.url,
                response.status_code,
                body,
                content_type,
            ):
                problems.append(f"{where}: {violation}")

        run()
    assert not problems, "\n".join(problems[:10])
    assert sum(statuses.values()) >= EXAMPLES // 2, statuses
    assert statuses[200] > 0, statuses  # the fuzzer reached past the refusals


def test_the_permission_paths_are_in_the_vendored_spec() -> None:
    paths = {p for p in load_spec()["paths"] if p.startswith("/fine_tuning/checkpoints/")}
    assert paths == {path for _, path in OPERATIONS}
