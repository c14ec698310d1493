"""Type errors are worded as the real API words them (docs/fidelity.md, Errors)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from mockft.app import create_app
from mockft.config import Settings


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = create_app(Settings(memory=True, clock="manual"))
    with TestClient(app, headers={"Authorization": "Bearer sk-structure"}) as client:
        yield client


def test_a_string_temperature_is_expected_to_be_a_decimal(client: TestClient) -> None:
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": "0.800000011920928955078125",
    }
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "message": "Invalid type for 'temperature': expected a decimal, but got a string "
            "instead.",
            "type": "invalid_request_error",
            "param": "temperature",
            "code": "invalid_type",
        }
    }


def test_a_decimal_where_a_string_belongs_is_called_a_decimal(client: TestClient) -> None:
    body = {"model": "gpt-4o-mini", "training_file": 1.5}
    response = client.post("/v1/fine_tuning/jobs", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "Invalid type for 'training_file': expected a string, but got a decimal instead."
    )
