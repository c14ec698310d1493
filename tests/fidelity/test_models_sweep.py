"""Models: the sweep's rows of docs/fidelity.md ("Models"), each asserted from its capture."""

from __future__ import annotations

import httpx

from tests.conftest import Server
from tests.fidelity.conftest import capture, create_job, finish, response_of


def test_retrieve_a_base_model_is_the_recorded_object(http: httpx.Client) -> None:
    real = response_of("models_retrieve")
    model = real["body"]["id"]
    response = http.get(f"/models/{model}")
    assert response.status_code == real["status"]
    assert response.json() == real["body"]


def test_retrieve_gpt_4o_is_owned_by_system(http: httpx.Client) -> None:
    real = capture("venice/openai_models.json")["models_retrieve_gpt_4o"]
    assert http.get(f"/models/{real['id']}").json() == real


def test_list_is_an_envelope_without_paging_fields(http: httpx.Client) -> None:
    real = response_of("models_list")["body"]
    body = http.get("/models").json()
    assert set(body) == set(real) - {"_note"}
    assert body["object"] == real["object"]
    for model in body["data"]:
        assert set(model) == set(real["data"][0])
        assert model["object"] == "model"


def test_delete_of_an_unknown_model_is_404(http: httpx.Client) -> None:
    recorded = capture("ruby-openai/models_delete.json")[0]
    response = http.delete(recorded["request"]["path"].removeprefix("/v1"))
    assert response.status_code == recorded["response"]["status"]
    assert response.json() == recorded["response"]["body"]


def test_delete_of_an_unknown_plain_id_names_it(http: httpx.Client) -> None:
    expected = capture("gptifier/error_strings.json")["quotes"]["delete_unknown_model"]
    response = http.delete("/models/foobar")
    assert response.status_code == 404
    assert response.json()["error"]["message"] == expected["message"]


def test_delete_own_fine_tuned_model(server: Server, http: httpx.Client) -> None:
    real = capture("simple-openai/models_delete.json")
    name = finish(server, http, create_job(http, suffix="suffix")["id"])["fine_tuned_model"]
    response = http.delete(f"/models/{name}")
    assert response.status_code == 200
    assert response.json() == {**real, "id": name}
    assert http.get(f"/models/{name}").status_code == 404
