"""Azure OpenAI's answers, byte for byte where a public capture shows them (docs/fidelity.md,
"Azure": each test names its source and date)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mockft.azure import shapes
from tests.test_azure import BASE, KEY, Azure, serve


@pytest.fixture
def azure() -> Iterator[Azure]:
    with serve() as client:
        yield client


def test_missing_api_version_is_404_resource_not_found(azure: Azure) -> None:
    """MicrosoftDocs/azure-docs#114602 (2023-09-12): 404 without `api-version`;
    ThinkInAIXYZ/deepchat#262 (2025-04-23): the body."""
    response = azure.post("/openai/deployments/gpt/chat/completions", version=None, json={})
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "404", "message": "Resource not found"}}


def test_an_api_version_without_the_operation_is_404_resource_not_found(azure: Azure) -> None:
    """CherryHQ/cherry-studio#8077 (2025-07-11): `api-version=preview` on the classic chat
    path; Azure-Samples/azureai-samples#77 (2024-03-29): a version without the operation."""
    for version in ("preview", "2023-05-15"):
        response = azure.get("/openai/files", version=version)
        assert response.status_code == 404
        assert response.json() == {"error": {"code": "404", "message": "Resource not found"}}


def test_a_dated_api_version_on_v1_is_400_api_version_not_supported(azure: Azure) -> None:
    """openai/codex#3725 (2025-09-16): `/openai/v1/...?api-version=2025-01-01-preview`."""
    response = azure.get("/openai/v1/models", params={"api-version": "2025-01-01-preview"})
    assert response.status_code == 400
    assert response.json() == {
        "error": {"code": "BadRequest", "message": "API version not supported"}
    }


def test_an_unknown_deployment_is_404_deployment_not_found(azure: Azure) -> None:
    """chatboxai/chatbox#861 (2023-07-26), rashadphz/farfalle#79 (2024-07-29): the body;
    Azure-Samples/azure-search-openai-demo-csharp#379 (2024-11-15): status 404."""
    response = azure.post(
        "/openai/deployments/gpt-35/chat/completions",
        json={"messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "code": "DeploymentNotFound",
            "message": "The API deployment for this resource does not exist. If you created "
            "the deployment within the last 5 minutes, please wait a moment and try again.",
        }
    }


def test_a_wrong_key_is_401_access_denied() -> None:
    """SciSharp/BotSharp#386 (2024-04-02): the full response to a wrong `api-key`."""
    with serve(api_keys=(KEY,)) as keyed:
        response = keyed.get("/openai/models", key="0123456789abcdef")
    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "code": "401",
            "message": "Access denied due to invalid subscription key or wrong API endpoint. "
            "Make sure to provide a valid key for an active subscription and use a correct "
            "regional API endpoint for your resource.",
        }
    }


def test_a_refused_entra_token_is_the_gateways_401() -> None:
    """Azure-Samples/azure-search-openai-demo#458 (2024-09-12): not the error envelope."""
    token = {"Authorization": "Bearer eyJ0eXAiOiJKV1Qi.x.y"}
    with serve(api_keys=(KEY,)) as keyed:
        response = keyed.get("/openai/models", key=None, headers=token)
    assert response.status_code == 401
    assert response.json() == {
        "statusCode": 401,
        "message": "Unauthorized. Access token is missing, invalid, audience is incorrect "
        "(https://cognitiveservices.azure.com), or have expired.",
    }


def test_an_upload_is_201_pending_with_its_location(azure: Azure) -> None:
    """Azure/azure-rest-api-specs, AzureOpenAI/authoring/stable/2024-10-21/examples/
    upload_file.json: 201, `location`, status "pending"; BerriAI/litellm#24687 (2026-03-27):
    real Azure files report "pending"."""
    response = azure.post(
        "/openai/files",
        files={"file": ("puppy.jsonl", b'{"a": 1}\n')},
        data={"purpose": "fine-tune"},
    )
    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"].endswith(f"/openai/files/{body['id']}")
    assert (body["object"], body["purpose"], body["filename"], body["status"]) == (
        "file",
        "fine-tune",
        "puppy.jsonl",
        "pending",
    )
    azure.advance(shapes.import_seconds(body["bytes"]))
    assert azure.get(f"/openai/files/{body['id']}").json()["status"] == "processed"


def test_a_new_job_reads_as_the_azure_tutorial_shows_it(azure: Azure) -> None:
    """MicrosoftDocs/azure-ai-docs, articles/ai-services/openai/tutorials/fine-tune.md: the
    job as created (2024-05-16), status "pending", hyperparameters -1/-1/1,
    organization_id and result_files null; BerriAI/litellm#24687 (2026-03-27): the same
    nulls and "pending" from the real service. Created with 201 and a location (Azure's
    REST reference, Fine Tuning - Create)."""
    file_id = azure.upload()["id"]
    response = azure.post(
        "/openai/fine_tuning/jobs", json={"model": BASE, "training_file": file_id, "seed": 105}
    )
    assert response.status_code == 201
    job = response.json()
    assert response.headers["location"].endswith(f"/openai/fine_tuning/jobs/{job['id']}")
    expected = {
        "error": None,
        "fine_tuned_model": None,
        "finished_at": None,
        "hyperparameters": {"n_epochs": -1, "batch_size": -1, "learning_rate_multiplier": 1},
        "model": BASE,
        "object": "fine_tuning.job",
        "organization_id": None,
        "result_files": None,
        "seed": 105,
        "status": "pending",
        "trained_tokens": None,
        "training_file": file_id,
        "validation_file": None,
        "estimated_finish": None,
        "integrations": None,
    }
    assert {k: job[k] for k in expected} == expected
