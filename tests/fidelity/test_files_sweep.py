"""Files: the sweep's rows of docs/fidelity.md ("Files"), each asserted from its capture."""

from __future__ import annotations

import base64
import re

import httpx

from tests.conftest import Server
from tests.fidelity.conftest import (
    TRAIN,
    assert_has_shape,
    capture,
    create_job,
    finish,
    quote,
    response_of,
    upload,
    upload_id,
)

PNG = base64.b64decode(response_of("files_fetch_image")["body"]["base64"])


def test_fine_tune_upload_is_a_processed_file(http: httpx.Client) -> None:
    real = response_of("files_upload_file")["body"]
    data = TRAIN.read_bytes()
    created = upload(http, "sentiment.jsonl", data)
    assert created.status_code == 200
    body = created.json()
    assert_has_shape(body, real)
    assert (body["object"], body["purpose"], body["status"]) == (
        real["object"],
        real["purpose"],
        real["status"],
    )
    assert (body["filename"], body["bytes"]) == ("sentiment.jsonl", len(data))
    assert re.fullmatch(r"file-[A-Za-z0-9]{22,24}", body["id"])


def test_vision_image_upload_is_processed(http: httpx.Client) -> None:
    real = response_of("files_fetch_image_upload")["body"]
    body = upload(http, real["filename"], PNG, purpose="vision").json()
    assert_has_shape(body, real)
    for key in ("object", "purpose", "filename", "bytes", "status"):
        assert body[key] == real[key], key


def test_assistants_upload_is_processed(http: httpx.Client) -> None:
    real = capture("venice/openai_files.json")["upload_assistants_pdf"]
    body = upload(http, real["filename"], b"%PDF-1.4 example", purpose="assistants").json()
    assert_has_shape(body, real)
    assert (body["purpose"], body["status"]) == (real["purpose"], real["status"])


def test_retrieve_answers_the_uploaded_object(http: httpx.Client) -> None:
    uploaded = response_of("files_fetch_image_upload")["body"]
    retrieved = response_of("files_fetch_image_retrieve")["body"]
    assert uploaded == retrieved  # what the capture shows: retrieve repeats the upload
    ours = upload(http, "image.png", PNG, purpose="vision").json()
    assert http.get(f"/files/{ours['id']}").json() == ours


def test_list_has_first_and_last_ids(http: httpx.Client) -> None:
    # Newest capture (2024-10-10) has first_id/last_id; the 2023-11 and 2024-05 ones did not.
    real = response_of("files_list", 2)["body"]
    ids = [upload_id(http) for _ in range(3)]
    body = http.get("/files").json()
    assert set(body) == set(real) - {"_note"}
    assert (body["object"], body["has_more"]) == ("list", False)
    assert [f["id"] for f in body["data"]] == ids[::-1]
    assert (body["first_id"], body["last_id"]) == (body["data"][0]["id"], body["data"][-1]["id"])


def test_results_file_is_step_metrics_csv_listed_by_purpose(
    server: Server, http: httpx.Client
) -> None:
    real = response_of("files_list", 1)
    assert real["body"]["data"][0]["filename"] == "step_metrics.csv"
    job = finish(server, http, create_job(http)["id"])
    listed = http.get("/files", params={"purpose": "fine-tune-results"}).json()["data"]
    assert [f["id"] for f in listed] == job["result_files"]
    assert_has_shape(listed[0], real["body"]["data"][0])
    for key in ("object", "purpose", "filename", "status"):
        assert listed[0][key] == real["body"]["data"][0][key], key
    others = http.get("/files", params={"purpose": "fine-tune"}).json()["data"]
    assert {f["purpose"] for f in others} == {"fine-tune"}


def test_delete_answers_a_deletion_object(http: httpx.Client) -> None:
    real = response_of("files_delete")["body"]
    file_id = upload_id(http)
    assert http.delete(f"/files/{file_id}").json() == {**real, "id": file_id}


def test_retrieve_of_an_unknown_file_is_404(http: httpx.Client) -> None:
    real = capture("venice/openai_files.json")["content_of_missing_file"]
    missing = real["body"]["error"]["message"].removeprefix("No such File object: ")
    response = http.get(f"/files/{missing}")
    assert response.status_code == real["status"]
    assert response.json() == real["body"]


def test_content_of_an_unknown_file_is_404(http: httpx.Client) -> None:
    real = capture("venice/openai_files.json")["content_of_missing_file"]
    missing = real["body"]["error"]["message"].removeprefix("No such File object: ")
    response = http.get(f"/files/{missing}/content")
    assert response.status_code == real["status"]
    assert response.headers["content-type"] == real["mimetype"]
    assert response.json() == real["body"]


def test_delete_of_an_unknown_file_names_it(http: httpx.Client) -> None:
    expected = capture("gptifier/error_strings.json")["quotes"]["delete_unknown_file"]
    response = http.delete("/files/foobar")
    assert response.status_code == 404
    assert response.json()["error"]["message"] == expected["message"]


def test_content_is_the_uploaded_bytes_as_octet_stream(http: httpx.Client) -> None:
    real = response_of("files_content")
    uploaded = response_of("files_content_upload")["body"]
    data = TRAIN.read_bytes()
    file_id = upload(http, uploaded["filename"], data).json()["id"]
    response = http.get(f"/files/{file_id}/content")
    assert response.headers["content-type"] == real["headers"]["Content-Type"]
    assert response.content == data


def test_download_names_the_file_in_content_disposition(http: httpx.Client) -> None:
    real = response_of("files_fetch_image")
    file_id = upload(http, "image.png", PNG, purpose="vision").json()["id"]
    response = http.get(f"/files/{file_id}/content")
    for header in ("Content-Type", "Content-Length", "Content-Disposition"):
        assert response.headers[header] == real["headers"][header], header
    assert response.content == PNG


def test_fine_tune_upload_must_be_jsonl(http: httpx.Client) -> None:
    expected = capture("gptifier/error_strings.json")["quotes"]["upload_python_file_for_fine_tune"]
    response = upload(http, "utils.py", b"import re\n")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == expected["message"]


def test_fine_tune_upload_whose_first_line_is_not_an_object(http: httpx.Client) -> None:
    real = quote("files_upload_line_not_object")
    response = upload(http, "train.jsonl", b"hello world\n")
    assert response.status_code == real["status"]
    error = response.json()["error"]
    template = re.escape(real["error"]["message"]).replace(re.escape('{"p'), "(.{1,3})")
    match = re.fullmatch(template, error["message"])
    assert match is not None, error["message"]
    assert "hello world".startswith(match.group(1))
    assert {k: error[k] for k in ("type", "param", "code")} == {
        k: real["error"][k] for k in ("type", "param", "code")
    }
