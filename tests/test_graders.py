"""Graders (alpha): a user checks a grader with validate, then scores samples with run. Every
response through `http` and `client` is checked against OpenAI's OpenAPI description."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from mockft import errors
from mockft import graders as g
from mockft.service import graders as api
from tests.conftest import API_KEY, Server, raw_http
from tests.openapi_contract import raw_spec, schema_violations

RUN_PATH = "/fine_tuning/alpha/graders/run"
VALIDATE_PATH = "/fine_tuning/alpha/graders/validate"


def string_check(operation: str = "eq", **overrides: Any) -> dict[str, Any]:
    return {
        "type": "string_check",
        "name": "Example string check grader",
        "input": "{{sample.output_text}}",
        "reference": "{{item.label}}",
        "operation": operation,
        **overrides,
    }


def text_similarity(metric: str = "fuzzy_match", **overrides: Any) -> dict[str, Any]:
    return {
        "type": "text_similarity",
        "name": "similarity",
        "input": "{{sample.output_text}}",
        "reference": "{{item.answer}}",
        "evaluation_metric": metric,
        **overrides,
    }


PYTHON_SOURCE = "def grade(sample, item) -> float:\n    return 1.0\n"


def python_grader(source: str = PYTHON_SOURCE) -> dict[str, Any]:
    return {"type": "python", "name": "py", "source": source, "image_tag": "2025-05-08"}


def score_model(**overrides: Any) -> dict[str, Any]:
    return {
        "type": "score_model",
        "name": "Example score model grader",
        "model": "gpt-4o-2024-08-06",
        "input": [
            {"role": "system", "content": "Score 0 to 1. Return only the score."},
            {
                "role": "user",
                "content": [
                    {
                        "type": "input_text",
                        "text": "Reference: {{item.reference_answer}}\n"
                        "Model answer: {{sample.output_text}}",
                    }
                ],
            },
        ],
        "sampling_params": {"temperature": 1, "top_p": 1, "seed": 42},
        **overrides,
    }


def multi(formula: str = "(name + email) / 2", **graders: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "multi",
        "name": "contact",
        "graders": graders
        or {
            "name": text_similarity(input="{{sample.output_json.name}}", reference="{{item.name}}"),
            "email": string_check(input="{{sample.output_json.email}}", reference="{{item.email}}"),
        },
        "calculate_output": formula,
    }


def run_local(
    grader: dict[str, Any], sample: str, item: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"grader": grader, "model_sample": sample}
    if item is not None:
        body["item"] = item
    request = api.parse_run_request(body)
    return g.run(request.grader, request.model_sample, request.item)


def rejection(body: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(errors.APIError) as caught:
        api.parse_run_request(body)
    assert caught.value.status == 400
    error: dict[str, Any] = caught.value.body()["error"]
    return error


def test_enums_are_the_specs() -> None:
    schemas = raw_spec()["components"]["schemas"]
    similarity = schemas["GraderTextSimilarity"]["properties"]["evaluation_metric"]["enum"]
    operations = schemas["GraderStringCheck"]["properties"]["operation"]["enum"]
    assert (tuple(similarity), tuple(operations)) == (
        g.EVALUATION_METRICS,
        g.STRING_CHECK_OPERATIONS,
    )


# -- validate over HTTP -----------------------------------------------------------------------


def test_validate_returns_the_spec_example_unchanged(http: httpx.Client) -> None:
    response = http.post(VALIDATE_PATH, json={"grader": string_check()})
    assert response.status_code == 200
    assert response.json() == {"grader": string_check()}


@pytest.mark.parametrize(
    "grader",
    [text_similarity("bleu", pass_threshold=0.5), python_grader(), score_model(range=[0, 10])],
    ids=["text_similarity", "python", "score_model"],
)
def test_validate_each_type_echoes_the_grader(http: httpx.Client, grader: dict[str, Any]) -> None:
    response = http.post(VALIDATE_PATH, json={"grader": grader})
    assert response.status_code == 200
    echoed = response.json()["grader"]
    assert {key: echoed[key] for key in ("type", "name")} == {
        "type": grader["type"],
        "name": grader["name"],
    }
    if grader["type"] == "score_model":
        assert echoed["range"] == [0, 10]
        assert echoed["input"] == grader["input"]
    else:
        assert echoed == grader


def test_validate_fills_in_a_missing_name_as_the_guide_examples_omit_it(
    http: httpx.Client,
) -> None:
    grader = {"type": "python", "source": PYTHON_SOURCE}
    body = http.post(VALIDATE_PATH, json={"grader": grader}).json()
    assert body == {"grader": {"type": "python", "name": "python", "source": PYTHON_SOURCE}}


def test_validate_multi_answers_the_mapping_form_the_real_api_takes(server: Server) -> None:
    # The spec types `graders` as one grader; the real API and the graders guide take a mapping
    # name -> grader (and reject the single form). The echo follows the real API, so this one
    # response is checked part by part instead of through the `http` fixture's spec hook.
    with raw_http(server, API_KEY) as raw:
        response = raw.post(VALIDATE_PATH, json={"grader": multi()})
    assert response.status_code == 200
    echoed = response.json()["grader"]
    assert echoed["calculate_output"] == "(name + email) / 2"
    assert echoed["graders"]["name"]["name"] == "similarity"
    assert schema_violations("GraderTextSimilarity", echoed["graders"]["name"]) == []
    assert schema_violations("GraderStringCheck", echoed["graders"]["email"]) == []


@pytest.mark.parametrize(
    ("grader", "param", "code", "message"),
    [
        (
            string_check("equals"),
            "grader.operation",
            "invalid_value",
            "Invalid value: 'equals'. Supported values are: 'eq', 'ne', 'like' and 'ilike'.",
        ),
        (
            text_similarity("bleurt"),
            "grader.evaluation_metric",
            "invalid_value",
            "Invalid value: 'bleurt'. Supported values are: 'cosine', 'fuzzy_match', 'bleu', "
            "'gleu', 'meteor', 'rouge_1', 'rouge_2', 'rouge_3', 'rouge_4', 'rouge_5' and "
            "'rouge_l'.",
        ),
        (
            {"type": "label_model", "name": "l"},
            "grader.type",
            "invalid_value",
            "Invalid value: 'label_model'. Supported values are: 'string_check', "
            "'text_similarity', 'python', 'score_model' and 'multi'.",
        ),
        (
            {"name": "untyped"},
            "grader.type",
            "missing_required_parameter",
            "Missing required parameter: 'grader.type'.",
        ),
        (
            {k: v for k, v in string_check().items() if k != "reference"},
            "grader.reference",
            "missing_required_parameter",
            "Missing required parameter: 'grader.reference'.",
        ),
        (
            string_check(input=7),
            "grader.input",
            "invalid_type",
            "Invalid type for 'grader.input': expected a string, but got an integer instead.",
        ),
        (
            string_check(input="{{ itme.label }}"),
            "grader.input",
            "invalid_value",
            "Invalid 'grader.input': '{{ itme.label }}' uses the namespace 'itme'; the "
            "supported namespaces are 'item' and 'sample'.",
        ),
        (
            score_model(range=[1, 0]),
            "grader.range",
            "invalid_value",
            "Invalid 'grader.range': expected two numbers [min, max] with min < max, but got "
            "[1.0, 0.0] instead.",
        ),
        (
            score_model(input=[{"role": "user", "content": [{"type": "input_txt", "text": "x"}]}]),
            "grader.input[0].content[0].type",
            "invalid_value",
            "Invalid value: 'input_txt'. Supported values are: 'input_text', 'output_text', "
            "'input_image' and 'input_audio'.",
        ),
        (
            score_model(sampling_params={"max_completions_tokens": 0}),
            "grader.sampling_params.max_completions_tokens",
            "integer_below_min_value",
            "Invalid 'grader.sampling_params.max_completions_tokens': integer below minimum "
            "value. Expected a value >= 1, but got 0 instead.",
        ),
        (
            python_grader("def grade(sample, item:\n    return 1.0\n"),
            "grader.source",
            "invalid_value",
            "Invalid 'grader.source': the source is not valid Python: '(' was never closed "
            "(line 1, column 10).",
        ),
        (
            python_grader("def score(sample, item):\n    return 1.0\n"),
            "grader.source",
            "invalid_value",
            "Invalid 'grader.source': the source must define a top-level function "
            "`grade(sample, item)` that can be called with 2 arguments and returns a float.",
        ),
        (
            multi("(name + email) / 2 + bonus"),
            "grader.calculate_output",
            "invalid_value",
            "Invalid 'grader.calculate_output': unknown grader 'bonus'; the formula can use "
            "'name', 'email'.",
        ),
        (
            multi("__import__('os').system('true')"),
            "grader.calculate_output",
            "invalid_value",
            "Invalid 'grader.calculate_output': unexpected character \"'\" at position 11 of "
            "the formula.",
        ),
        (
            multi("name", name={"type": "multi"}),
            "grader.graders.name.type",
            "invalid_value",
            "Invalid value: 'multi'. Supported values are: 'string_check', 'text_similarity', "
            "'python', 'score_model' and 'label_model'.",
        ),
        (
            # the single-grader form of the spec: the real API reads its keys as grader names
            multi("1", **string_check()),
            "grader.graders.type",
            "invalid_type",
            "Invalid type for 'grader.graders.type': expected an object, but got a string instead.",
        ),
    ],
    ids=[
        "operation",
        "metric",
        "top-level-label-model",
        "no-type",
        "missing-field",
        "wrong-type",
        "template-namespace",
        "range",
        "content-part-type",
        "sampling-bound",
        "python-syntax",
        "python-no-grade",
        "formula-unknown-name",
        "formula-injection",
        "nested-multi",
        "multi-single-form",
    ],
)
def test_validate_rejects_with_the_param_named(
    http: httpx.Client, grader: dict[str, Any], param: str, code: str, message: str
) -> None:
    response = http.post(VALIDATE_PATH, json={"grader": grader})
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "message": message,
            "type": "invalid_request_error",
            "param": param,
            "code": code,
        }
    }


def test_validate_rejects_unknown_fields_and_bad_bodies(http: httpx.Client) -> None:
    unknown = http.post(VALIDATE_PATH, json={"grader": string_check(), "extra": 1}).json()
    assert unknown["error"]["param"] == "extra"
    assert http.post(VALIDATE_PATH, json={}).json()["error"]["param"] == "grader"
    broken = http.post(VALIDATE_PATH, content=b"{nope", headers={"content-type": "json"})
    assert broken.status_code == 400
    assert broken.json()["error"]["message"] == errors.INVALID_JSON_MESSAGE


# -- run over HTTP ----------------------------------------------------------------------------


def test_run_string_check_has_every_field_of_the_spec(http: httpx.Client) -> None:
    body = {"grader": string_check(), "model_sample": "Paris", "item": {"label": "Paris"}}
    response = http.post(RUN_PATH, json=body)
    assert response.status_code == 200
    result = response.json()
    assert result["reward"] == 1.0
    assert result["sub_rewards"] == {} and result["model_grader_token_usage_per_model"] == {}
    metadata = result["metadata"]
    assert (metadata["name"], metadata["type"]) == ("Example string check grader", "string_check")
    assert (metadata["token_usage"], metadata["sampled_model_name"]) == (None, None)
    assert not any(metadata["errors"].values())
    assert len(metadata["errors"]) == 14


def test_run_is_byte_identical_when_repeated(http: httpx.Client) -> None:
    body = {"grader": score_model(), "model_sample": "0.9", "item": {"reference_answer": 1.0}}
    assert http.post(RUN_PATH, json=body).content == http.post(RUN_PATH, json=body).content


def test_run_score_model_reports_usage_per_model(http: httpx.Client) -> None:
    body = {"grader": score_model(range=[0, 10]), "model_sample": "fuzzy wuzzy"}
    body["item"] = {"reference_answer": "fuzzy wuzzy was a bear"}
    result = http.post(RUN_PATH, json=body).json()
    assert 0 <= result["reward"] <= 10
    usage = result["model_grader_token_usage_per_model"]["gpt-4o-2024-08-06"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens"] > 0 and usage["cached_tokens"] == 0
    assert result["metadata"]["token_usage"] == usage["total_tokens"]
    assert result["metadata"]["sampled_model_name"] == "gpt-4o-2024-08-06"


def test_run_multi_over_http(http: httpx.Client) -> None:
    body = {
        "grader": multi(),
        "model_sample": '{"name": "Jon Doe", "email": "jd@example.com"}',
        "item": {"name": "John Doe", "email": "jd@example.com"},
    }
    result = http.post(RUN_PATH, json=body).json()
    name_score = g.fuzzy_match("Jon Doe", "John Doe")
    assert result["sub_rewards"] == {"name": name_score, "email": 1.0}
    assert result["metadata"]["scores"] == result["sub_rewards"]
    assert result["reward"] == pytest.approx((name_score + 1.0) / 2)


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"grader": string_check()}, "model_sample", "missing_required_parameter"),
        ({"grader": string_check(), "model_sample": 3}, "model_sample", "invalid_type"),
        ({"grader": string_check(), "model_sample": "x", "item": [1]}, "item", "invalid_type"),
        ({"grader": string_check("like?"), "model_sample": "x"}, "grader.operation", None),
    ],
    ids=["no-sample", "sample-type", "item-type", "operation"],
)
def test_run_rejects_bad_requests(
    http: httpx.Client, body: dict[str, Any], param: str, code: str | None
) -> None:
    response = http.post(RUN_PATH, json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    if code is not None:
        assert response.json()["error"]["code"] == code


def _strict_json(content: bytes) -> Any:
    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    return json.loads(content, parse_constant=refuse)


@pytest.mark.parametrize("number", [b"Infinity", b"-Infinity", b"NaN"])
def test_non_finite_numbers_are_rejected_not_echoed(http: httpx.Client, number: bytes) -> None:
    grader = (
        b'{"type": "score_model", "name": "s", "model": "gpt-4o-2024-08-06", '
        b'"input": [{"role": "user", "content": "x"}], "range": [0, ' + number + b"]}"
    )
    for body in (
        b'{"grader": ' + grader + b"}",
        b'{"grader": ' + grader + b', "model_sample": "x"}',
    ):
        path = VALIDATE_PATH if b"model_sample" not in body else RUN_PATH
        response = http.post(path, content=body, headers={"content-type": "application/json"})
        assert response.status_code == 400
        _strict_json(response.content)


@pytest.mark.parametrize(
    ("overrides", "param", "shown"),
    [
        ({"range": [0, math.inf]}, "grader.range[1]", "Infinity"),
        ({"range": [-math.inf, 1]}, "grader.range[0]", "-Infinity"),
        (
            {"sampling_params": {"temperature": math.nan}},
            "grader.sampling_params.temperature",
            "NaN",
        ),
    ],
)
def test_non_finite_numbers_name_their_param(
    overrides: dict[str, Any], param: str, shown: str
) -> None:
    error = rejection({"grader": score_model(**overrides), "model_sample": "x"})
    assert error["param"] == param
    assert f"but got {shown} instead" in error["message"]


def test_a_huge_score_range_still_gives_a_finite_reward() -> None:
    reward = run_local(score_model(range=[-1.7e308, 1.7e308]), "x", {"reference_answer": 1})
    assert math.isfinite(reward["reward"])


def test_hostile_formulas_are_400s_not_500s(http: httpx.Client) -> None:
    for formula in [
        "__import__('os').system('touch /tmp/pwned')",
        "__import__(name)",
        "name.__class__",
        "().__class__.__bases__[0]",
        "open(name)",
        "lambda: 1",
        "name; email",
        "(" * 500 + "name" + ")" * 500,
        "1" * (g.MAX_FORMULA_LENGTH + 1),
    ]:
        response = http.post(RUN_PATH, json={"grader": multi(formula), "model_sample": "{}"})
        assert response.status_code == 400, formula
        assert response.json()["error"]["param"] == "grader.calculate_output"


def test_the_sdk_validates_and_runs(client: openai.OpenAI) -> None:
    validated = client.fine_tuning.alpha.graders.validate(grader=string_check())  # type: ignore[arg-type]
    assert validated.grader is not None and validated.grader.type == "string_check"
    result = client.fine_tuning.alpha.graders.run(
        grader=string_check("ilike"),  # type: ignore[arg-type]
        model_sample="The answer is PARIS.",
        item={"label": "paris"},
    )
    assert result.reward == 1.0
    assert result.metadata.errors.invalid_variable_error is False
    with pytest.raises(openai.BadRequestError) as caught:
        client.fine_tuning.alpha.graders.validate(grader=string_check("is"))  # type: ignore[arg-type]
    assert caught.value.param == "grader.operation"


# -- string_check and templates ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "sample", "label", "reward"),
    [
        ("eq", "Paris", "Paris", 1.0),
        ("eq", "paris", "Paris", 0.0),
        ("ne", "Lyon", "Paris", 1.0),
        ("ne", "Paris", "Paris", 0.0),
        ("like", "It is Paris.", "Paris", 1.0),
        ("like", "It is PARIS.", "Paris", 0.0),
        ("ilike", "It is PARIS.", "Paris", 1.0),
        ("ilike", "It is Lyon.", "Paris", 0.0),
    ],
)
def test_string_check_operations(operation: str, sample: str, label: str, reward: float) -> None:
    assert run_local(string_check(operation), sample, {"label": label})["reward"] == reward


def test_templates_reach_nested_items_lists_and_json_samples() -> None:
    grader = string_check(
        input="{{ sample.output_json.cities[1].name }}/{{sample.output_text}}",
        reference="{{item.answer.city}}/{{ item.raw }}",
    )
    sample = '{"cities": [{"name": "Lyon"}, {"name": "Paris"}]}'
    item = {"answer": {"city": "Paris"}, "raw": sample}
    assert run_local(grader, sample, item)["reward"] == 1.0


def test_templates_insert_other_values_as_compact_json() -> None:
    namespaces = g.Namespaces("x", {"n": 1.5, "ok": True, "obj": {"a": [1, None]}})
    rendered = g.render_template("{{item.n}} {{item.ok}} {{item.obj}}", namespaces)
    assert rendered == '1.5 true {"a":[1,null]}'


@pytest.mark.parametrize(
    ("reference", "sample", "flag"),
    [
        ("{{item.missing}}", "x", "invalid_variable_error"),
        ("{{item.label[3]}}", "x", "invalid_variable_error"),
        ("{{sample.output_tools[0].function.name}}", "x", "invalid_variable_error"),
        ("{{sample.output_json.city}}", "not json", "sample_parse_error"),
        ("{{sample.output_json[0]}}", "[" * 100_000 + "]" * 100_000, "sample_parse_error"),
    ],
    ids=["missing-key", "index-past-end", "no-tools-in-a-text-sample", "not-json", "too-deep"],
)
def test_unresolved_variables_score_zero_with_the_error_flag(
    reference: str, sample: str, flag: str
) -> None:
    result = run_local(string_check("ne", reference=reference), sample, {"label": "ab"})
    assert result["reward"] == 0.0
    assert [k for k, v in result["metadata"]["errors"].items() if v] == [flag]


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{{ label }}", "uses the namespace 'label'"),
        ("{{ item }}", "names a namespace but no variable"),
        ("{{ sample.text }}", "reads 'sample.text'"),
        ("{{ item..x }}", "is not of the form namespace.variable"),
    ],
)
def test_malformed_templates_are_rejected(template: str, problem: str) -> None:
    error = rejection({"grader": string_check(reference=template), "model_sample": "x"})
    assert error["param"] == "grader.reference"
    assert problem in error["message"]


# -- text_similarity ----------------------------------------------------------------------------

# "a b c d" against "a b c e": 3 of 4 words, 2 of 3 bigrams, 1 of 2 trigrams, 0 of 1 4-gram.
PARTIAL = {
    "fuzzy_match": 12 / 14,  # 2 * LCS("a b c d", "a b c e") / 14 characters
    "bleu": (3 / 4 * 3 / 4 * 2 / 3 * 1 / 2) ** (1 / 4),  # p1 = 3/4, then (m+1)/(c+1)
    "gleu": 6 / 10,  # 3 + 2 + 1 + 0 of 10 n-grams on each side
    "meteor": 0.75 * (1 - 0.5 * (1 / 3) ** 3),  # Fmean 0.75, one chunk of 3 matches
    "rouge_1": 0.75,
    "rouge_2": 2 / 3,
    "rouge_3": 0.5,
    "rouge_4": 0.0,
    "rouge_5": 0.0,  # no 5-grams at all
    "rouge_l": 0.75,
    "cosine": 3 / 4,  # dot 3, norms 2 * 2
}


@pytest.mark.parametrize("metric", g.EVALUATION_METRICS)
def test_text_similarity_known_values(metric: str) -> None:
    result = run_local(text_similarity(metric), "a b c d", {"answer": "a b c e"})
    assert result["reward"] == pytest.approx(PARTIAL[metric])


@pytest.mark.parametrize("metric", ["fuzzy_match", "bleu", "gleu", "rouge_1", "rouge_l", "cosine"])
def test_text_similarity_identical_texts_score_one(metric: str) -> None:
    assert g.similarity(metric, "the cat sat on the mat", "the cat sat on the mat") == 1.0


def test_lcs_agrees_with_the_textbook_table() -> None:
    def table(a: str, b: str) -> int:
        previous = [0] * (len(b) + 1)
        for x in a:
            current = [0]
            for j, y in enumerate(b):
                current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
            previous = current
        return previous[-1]

    rng = random.Random(5)
    for _ in range(500):
        a = "".join(rng.choice("abc") for _ in range(rng.randint(0, 80)))
        b = "".join(rng.choice("abcd") for _ in range(rng.randint(0, 80)))
        assert g.lcs_length(a, b) == table(a, b), (a, b)


def test_fuzzy_match_is_rapidfuzz_ratio() -> None:
    # rapidfuzz: fuzz.ratio("this is a test", "this is a test!") == 96.55...
    assert g.similarity("fuzzy_match", "this is a test", "this is a test!") == 28 / 29
    assert g.similarity("fuzzy_match", "Paris", "paris") == 0.8


def test_bleu_brevity_penalty() -> None:
    assert g.similarity("bleu", "a b", "a b c d") == pytest.approx(math.exp(1 - 4 / 2))


def test_meteor_penalises_fragmented_order() -> None:
    assert g.similarity("meteor", "a b c d", "a b c d") == pytest.approx(1 - 0.5 / 4**3)
    assert g.similarity("meteor", "c d a b", "a b c d") == pytest.approx(1 - 0.5 * (2 / 4) ** 3)


def test_word_metrics_ignore_case_and_punctuation() -> None:
    assert g.similarity("rouge_1", "The CAT, sat!", "the cat sat") == 1.0
    assert g.similarity("cosine", "alpha", "beta") == 0.0


def test_empty_texts() -> None:
    assert g.similarity("fuzzy_match", "", "") == 1.0
    for metric in g.EVALUATION_METRICS:
        if metric != "fuzzy_match":
            assert g.similarity(metric, "", "words") == 0.0


# -- calculate_output -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("1 + 2 * 3", 7.0),
        ("(1 + 2) * 3", 9.0),
        ("10 - 4 - 3", 3.0),
        ("12 / 4 / 3", 1.0),
        ("2 ^ 3 ^ 2", 512.0),
        ("-2 ^ 2", -4.0),
        ("2 ^ -1", 0.5),
        ("--3", 3.0),
        ("1.5e1 + .5", 15.5),
        ("min(a, b, 0.7)", 0.25),
        ("max(a, b)", 1.0),
        ("abs(a - b)", 0.75),
        ("floor(2.7) + ceil(0.2)", 3.0),
        ("sqrt(16) * exp(0) + log(1)", 4.0),
        ("(a + b) / 2", 0.625),
        # long chains stay flat: no recursion limit
        pytest.param("+".join(["1"] * 1500), 1500.0, id="1+1+...+1 (1500 terms)"),
    ],
)
def test_formula_values(formula: str, expected: float) -> None:
    node = g.parse_formula(formula)
    assert g.evaluate_formula(node, {"a": 0.25, "b": 1.0}) == pytest.approx(expected)


@pytest.mark.parametrize(
    "formula",
    [
        "",
        "1 +",
        "(1",
        "1)",
        "1 1",
        "a b",
        "min()",
        "abs(1, 2)",
        "__import__('os')",
        "__import__(a)",
        "eval(a)",
        "a.real",
        "a[0]",
        "a ** 2",
        "a % 2",
        "a == 1",
        "'a'",
        pytest.param("-" * 200 + "1", id="200 unary minuses"),
        pytest.param("(" * 100 + "1" + ")" * 100, id="100 nested parentheses"),
        pytest.param("2" + "^2" * 100, id="100 nested powers"),
    ],
)
def test_formulas_that_do_not_parse(formula: str) -> None:
    with pytest.raises(g.FormulaError):
        g.parse_formula(formula)


@pytest.mark.parametrize("formula", ["a / (b - 1)", "sqrt(-1)", "log(0)", "10 ^ 400", "exp(1e4)"])
def test_formulas_that_fail_while_computing(formula: str) -> None:
    with pytest.raises(g.FormulaError):
        g.evaluate_formula(g.parse_formula(formula), {"a": 1.0, "b": 1.0})


def test_formula_names_are_grader_names_only() -> None:
    assert g.formula_names(g.parse_formula("max(a, b) + min(c) * abs(d)")) == {"a", "b", "c", "d"}
    with pytest.raises(g.FormulaError, match="unknown grader 'abs'"):
        g.evaluate_formula(g.parse_formula("abs"), {})


def test_a_formula_that_fails_at_run_scores_zero_with_other_error() -> None:
    result = run_local(
        multi("1 / (1 - same)", same=string_check(input="x", reference="x")), "anything"
    )
    assert result["sub_rewards"] == {"same": 1.0}
    assert result["reward"] == 0.0
    assert result["metadata"]["errors"]["other_error"] is True


def test_sub_grader_errors_reach_the_multi_grader() -> None:
    grader = multi(
        "a + b",
        a=string_check(reference="{{item.nope}}"),
        b=string_check(input="x", reference="x"),
    )
    result = run_local(grader, "x", {})
    assert result["sub_rewards"] == {"a": 0.0, "b": 1.0} and result["reward"] == 1.0
    assert result["metadata"]["errors"]["invalid_variable_error"] is True


# -- graders mockft cannot run: python, score_model, label_model ---------------------------------


def test_python_source_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    source = (
        f"open({str(marker)!r}, 'w').write('module body ran')\n"
        "def grade(sample, item):\n"
        f"    open({str(marker)!r}, 'w').write('grade ran')\n"
        "    raise SystemExit(1)\n"
    )
    first = run_local(python_grader(source), "sample", {"k": 1})
    assert not marker.exists()
    assert 0.0 <= first["reward"] <= 1.0
    assert not any(first["metadata"]["errors"].values())
    assert run_local(python_grader(source), "sample", {"k": 1}) == first
    assert run_local(python_grader(source), "other sample", {"k": 1})["reward"] != first["reward"]


@pytest.mark.parametrize(
    "source",
    [
        "def grade(sample, item, extra):\n    return 1.0\n",
        "def grade(sample):\n    return 1.0\n",
        "def grade(sample, item, *, strict):\n    return 1.0\n",
        "async def grade(sample, item):\n    return 1.0\n",
        "class G:\n    def grade(self, sample, item):\n        return 1.0\n",
        "grade = 1\n",
    ],
)
def test_python_grade_must_be_a_two_argument_function(source: str) -> None:
    error = rejection({"grader": python_grader(source), "model_sample": "x"})
    assert error["param"] == "grader.source"


def test_python_source_size_limit() -> None:
    source = PYTHON_SOURCE + "#" * g.MAX_PYTHON_SOURCE_BYTES
    error = rejection({"grader": python_grader(source), "model_sample": "x"})
    assert "the limit is 262144 bytes" in error["message"]
    grade_with_defaults = "def grade(sample, item, scale=1.0):\n    return scale\n"
    api.parse_run_request({"grader": python_grader(grade_with_defaults), "model_sample": "x"})


def test_score_model_is_deterministic_within_its_range() -> None:
    rewards = set()
    for seed in range(20):
        grader = score_model(range=[-5, 5], sampling_params={"seed": seed})
        result = run_local(grader, "0.9", {"reference_answer": 1})
        assert -5 <= result["reward"] <= 5
        assert result == run_local(grader, "0.9", {"reference_answer": 1})
        rewards.add(result["reward"])
    assert len(rewards) > 1  # the seed takes part in the draw
    default = run_local(score_model(), "0.9", {"reference_answer": 1})["reward"]
    assert 0 <= default <= 1


def test_score_model_template_errors_are_flagged() -> None:
    result = run_local(score_model(), "0.9", {})
    assert result["reward"] == 0.0
    assert result["metadata"]["errors"]["invalid_variable_error"] is True


def label_model(passing: list[str]) -> dict[str, Any]:
    return {
        "type": "label_model",
        "name": "sentiment",
        "model": "gpt-4o-mini-2024-07-18",
        "input": [{"type": "message", "role": "user", "content": "Classify: {{item.text}}"}],
        "labels": ["positive", "neutral", "negative"],
        "passing_labels": passing,
    }


def test_label_model_inside_multi() -> None:
    item = {"text": "great"}
    everything = run_local(
        multi("mood", mood=label_model(["positive", "neutral", "negative"])), "x", item
    )
    assert everything["reward"] == 1.0
    one = run_local(multi("mood", mood=label_model(["positive"])), "x", item)
    assert one["reward"] in (0.0, 1.0)
    usage = one["model_grader_token_usage_per_model"]["gpt-4o-mini-2024-07-18"]
    assert one["metadata"]["token_usage"] == usage["total_tokens"]
    bad = rejection({"grader": multi("mood", mood=label_model(["happy"])), "model_sample": "x"})
    assert bad["param"] == "grader.graders.mood.passing_labels"


def test_multi_sums_token_usage_per_model() -> None:
    grader = multi("a + b", a=score_model(), b=score_model(name="second"))
    result = run_local(grader, "0.9", {"reference_answer": 1})
    usage = result["model_grader_token_usage_per_model"]["gpt-4o-2024-08-06"]
    assert result["metadata"]["token_usage"] == usage["total_tokens"]
    assert result["reward"] == pytest.approx(sum(result["sub_rewards"].values()))


def test_parse_grader_names_a_caller_chosen_param() -> None:
    with pytest.raises(errors.APIError) as caught:
        api.parse_grader(string_check("eqq"), "method.reinforcement.grader")
    assert caught.value.param == "method.reinforcement.grader.operation"
    parsed = api.parse_grader(string_check(), "method.reinforcement.grader")
    assert g.run(parsed, "Paris", {"label": "Paris"})["reward"] == 1.0
