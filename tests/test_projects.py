"""Projects and admin keys: `--api-key KEY=org/PROJECT_ID`, the `OpenAI-Project` header as
the real API reads it, `--admin-key KEY=org`, and how they sit beside the control keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from pydantic import ValidationError

from mockft import errors
from mockft.auth import Identity, KeyRing, Organization
from mockft.config import Settings
from mockft.pytest_plugin import MockFT
from tests.conftest import LiveServer, live_server, make_settings

PROJECT_KEY = "sk-proj-key"
USER_KEY = "sk-user-key"
OTHER_PROJECT_KEY = "sk-other-project"
ADMIN_KEY = "sk-admin-key"
CONTROL_KEY = "sk-control-key"
ACME = Organization.named("acme")


def ring() -> KeyRing:
    return KeyRing(
        (f"{PROJECT_KEY}=acme/proj_a", f"{USER_KEY}=acme", f"{OTHER_PROJECT_KEY}=acme/proj_b"),
        "mockft",
        control_keys=(CONTROL_KEY,),
        admin_keys=(f"{ADMIN_KEY}=acme",),
    )


def bearer(key: str) -> str:
    return f"Bearer {key}"


def refusal(call: object) -> errors.APIError:
    assert callable(call)
    with pytest.raises(errors.APIError) as refused:
        call()
    return refused.value


def test_a_project_key_acts_in_its_project() -> None:
    keys = ring()
    assert keys.identify(bearer(PROJECT_KEY)) == Identity(ACME, "proj_a")
    assert keys.identify(bearer(PROJECT_KEY), project="proj_a") == Identity(ACME, "proj_a")
    other = refusal(lambda: keys.identify(bearer(PROJECT_KEY), project="proj_b"))
    assert (other.status, other.code, other.message) == (
        401,
        "mismatched_project",
        "OpenAI-Project header should match project for API key",
    )


def test_a_user_key_selects_a_project_of_its_organization() -> None:
    keys = ring()
    assert keys.identify(bearer(USER_KEY)) == Identity(ACME, None)
    assert keys.identify(bearer(USER_KEY), project="proj_b") == Identity(ACME, "proj_b")
    assert keys.identify(bearer(USER_KEY), project="  ") == Identity(ACME, None)
    unknown = refusal(lambda: keys.identify(bearer(USER_KEY), project="proj_elsewhere"))
    assert unknown.code == "mismatched_project"
    assert keys.projects(ACME.id) == {"proj_a", "proj_b"}


def test_the_organization_header_is_checked_first() -> None:
    keys = ring()
    wrong = refusal(lambda: keys.identify(bearer(PROJECT_KEY), "org-other", "proj_b"))
    assert wrong.code == "mismatched_organization"
    assert keys.identify(bearer(PROJECT_KEY), ACME.id, "proj_a").org == ACME


def test_admin_keys_and_control_keys() -> None:
    keys = ring()
    assert keys.identify(bearer(ADMIN_KEY)) == Identity(ACME, None, admin=True)
    assert keys.identify(bearer(ADMIN_KEY), project="anything").admin  # an org's key
    assert refusal(lambda: keys.identify(bearer(CONTROL_KEY))).code == "invalid_api_key"
    admin_caller = keys.authenticate_control(bearer(ADMIN_KEY))
    assert (admin_caller.org, admin_caller.control) == (ACME, False)
    assert keys.authenticate_control(bearer(CONTROL_KEY)).control


def test_scopes_admin_endpoints_for_admin_keys_only() -> None:
    keys = ring()
    admin = keys.identify(bearer(ADMIN_KEY))
    user = keys.identify(bearer(USER_KEY))
    permissions = "/v1/fine_tuning/checkpoints/ft:x/permissions"
    keys.authorize(admin, "POST", permissions)
    keys.authorize(user, "POST", "/v1/chat/completions")
    for identity, method, path, scope in (
        (user, "POST", permissions, "api.fine_tuning.checkpoints.write"),
        (user, "GET", permissions, "api.fine_tuning.checkpoints.read"),
        (admin, "POST", "/v1/chat/completions", "model.request"),
        (admin, "GET", "/v1/models", "api.model.read"),
        (admin, "POST", "/v1/files", "api.files.write"),
        (admin, "GET", "/v1/fine_tuning/jobs", "api.fine_tuning.jobs.read"),
    ):
        refused = refusal(lambda: keys.authorize(identity, method, path))  # noqa: B023
        assert refused.status == 401
        assert refused.message == (
            f"You have insufficient permissions for this operation. Missing scopes: {scope}. "
            + errors.SCOPE_HINT
        )


def test_an_open_server_names_the_project_from_the_header() -> None:
    keys = KeyRing((), "mockft")
    identity = keys.identify(bearer("anything"), project="proj_z")
    assert identity == Identity(keys.default, "proj_z")
    keys.authorize(identity, "POST", "/v1/fine_tuning/checkpoints/ft:x/permissions")  # open
    with_admins = KeyRing((), "mockft", admin_keys=(f"{ADMIN_KEY}=acme",))
    refused = refusal(
        lambda: with_admins.authorize(
            with_admins.identify(bearer("anything")), "GET", "/v1/fine_tuning/checkpoints/x/p"
        )
    )
    assert refused.status == 401


def test_settings_read_projects_and_admin_keys_from_flags_and_environment() -> None:
    settings = Settings.from_env(
        {"MOCKFT_API_KEYS": "a=acme/proj_a, b=acme", "MOCKFT_ADMIN_KEYS": "c=acme,d"}
    )
    assert settings.api_keys == ("a=acme/proj_a", "b=acme")
    assert settings.admin_keys == ("c=acme", "d")
    for bad in (
        {"api_keys": ("a=acme/",)},
        {"api_keys": ("a=/proj",)},
        {"admin_keys": ("c=acme/proj_a",)},
        {"api_keys": ("same",), "admin_keys": ("same=acme",)},
        {"admin_keys": ("same",), "control_keys": ("same",)},
    ):
        with pytest.raises(ValidationError):
            Settings(**bad)  # type: ignore[arg-type]


# --- over HTTP, with the SDK's own `project=` ----------------------------------------------------


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[LiveServer]:
    settings = make_settings(
        tmp_path,
        api_keys=(f"{PROJECT_KEY}=acme/proj_a", f"{USER_KEY}=acme"),
        admin_keys=(f"{ADMIN_KEY}=acme",),
        control_keys=(CONTROL_KEY,),
    )
    with live_server(settings) as live:
        yield live


def test_the_sdk_project_option_is_the_header(keyed: LiveServer) -> None:
    def models(key: str, project: str | None) -> int:
        with openai.OpenAI(
            base_url=keyed.base_url, api_key=key, project=project, max_retries=0
        ) as client:
            try:
                client.models.list()
            except openai.APIStatusError as error:
                return error.status_code
            return 200

    assert models(PROJECT_KEY, None) == 200
    assert models(PROJECT_KEY, "proj_a") == 200
    assert models(PROJECT_KEY, "proj_other") == 401
    assert models(USER_KEY, "proj_a") == 200  # a project of acme that a key names
    assert models(USER_KEY, "proj_other") == 401


def test_the_refusals_are_the_error_envelope(keyed: LiveServer) -> None:
    answer = httpx.get(
        f"{keyed.base_url}/models",
        headers={"Authorization": bearer(PROJECT_KEY), "OpenAI-Project": "proj_other"},
    )
    assert answer.status_code == 401
    assert answer.json() == {
        "error": {
            "message": "OpenAI-Project header should match project for API key",
            "type": "invalid_request_error",
            "param": None,
            "code": "mismatched_project",
        }
    }
    admin = httpx.post(
        f"{keyed.base_url}/chat/completions",
        headers={"Authorization": bearer(ADMIN_KEY)},
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert admin.status_code == 401
    assert admin.json()["error"]["code"] is None
    assert "Missing scopes: model.request." in admin.json()["error"]["message"]


def test_an_admin_key_on_the_control_api_acts_for_its_organization(keyed: LiveServer) -> None:
    root = keyed.base_url.removesuffix("/v1")  # the control API's
    clock = httpx.post(
        f"{root}/mockft/clock/advance",
        headers={"Authorization": bearer(ADMIN_KEY)},
        json={"seconds": 1},
    )
    assert clock.status_code == 403  # the shared clock is the control key's
    reset = httpx.post(f"{root}/mockft/reset", headers={"Authorization": bearer(ADMIN_KEY)})
    assert reset.status_code == 200


def test_the_pytest_handle_reaches_a_project_through_the_header() -> None:
    handle = MockFT()
    try:
        client = handle.openai(project="proj_q")
        assert client.models.list().data  # an open server: any project may be named
    finally:
        handle.close()
