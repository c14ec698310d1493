"""Every scenario of examples/scenarios/ does what its comments (and docs/scenarios.md)
promise, seen through the unchanged SDK."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import openai
import pytest

from mockft.scenario.loader import read_files, read_text
from tests.conftest import FIXTURES

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "scenarios"
TRAIN = (FIXTURES / "train_chat.jsonl").read_bytes()


def upload(client: openai.OpenAI, name: str = "train.jsonl") -> str:
    return client.files.create(file=(name, TRAIN), purpose="fine-tune").id


def ask(client: openai.OpenAI, model: str, prompt: str) -> str | None:
    answer = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": prompt}]
    )
    return answer.choices[0].message.content


def test_every_example_is_valid_and_tested():
    examples = sorted(p.name for p in EXAMPLES.glob("*.toml"))
    assert len(examples) >= 5
    tested = Path(__file__).read_text()
    for name in examples:
        assert read_files([EXAMPLES / name]).documents  # no problem
        assert f'"../examples/scenarios/{name}"' in tested, f"{name} has no test"


@pytest.mark.mockft(scenario="../examples/scenarios/failing-validation.toml")
def test_failing_validation(mockft):
    client = mockft.openai()
    (seeded,) = client.fine_tuning.jobs.list().data
    assert seeded.status == "failed"
    assert (seeded.error.code, seeded.error.param) == ("invalid_n_examples", "training_file")
    assert seeded.error.message == (
        "Training file has 3 example(s), but must have at least 10 examples"
    )
    files = {f.filename: f.id for f in client.files.list().data}
    again = client.fine_tuning.jobs.create(
        model="gpt-4o-mini", training_file=files["too-few.jsonl"]
    )
    done = mockft.run_until_done(again.id)
    assert (done.status, done.error.message) == ("failed", seeded.error.message)
    nightly = client.fine_tuning.jobs.create(
        model="gpt-4o-mini", training_file=files["support.jsonl"], suffix="fail-nightly"
    )
    done = mockft.run_until_done(nightly.id)
    assert (done.status, done.error.code) == ("failed", "invalid_training_file")
    assert done.error.message == "The job failed due to an invalid training file."
    last = [e.message for e in client.fine_tuning.jobs.list_events(nightly.id, limit=2).data]
    assert last[1].startswith("Step 3/")
    fine = client.fine_tuning.jobs.create(
        model="gpt-4o-mini", training_file=files["support.jsonl"], suffix="nightly"
    )
    assert mockft.run_until_done(fine.id).status == "succeeded"


@pytest.mark.mockft(scenario="../examples/scenarios/flaky-api.toml")
def test_flaky_api(mockft):
    client = mockft.openai()  # max_retries=2, as the SDK's default
    upload(client)
    training = upload(client)  # the second upload: a 429, then the retry goes through
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training)
    log = [(r.method, r.path, r.status) for r in mockft.requests]
    assert log == [
        ("POST", "/v1/files", 200),
        ("POST", "/v1/files", 429),
        ("POST", "/v1/files", 200),
        ("POST", "/v1/fine_tuning/jobs", 429),
        ("POST", "/v1/fine_tuning/jobs", 429),
        ("POST", "/v1/fine_tuning/jobs", 200),
    ]
    mockft.clear_requests()
    bare = mockft.openai(max_retries=0)
    outcomes = []
    for _ in range(100):
        try:
            bare.fine_tuning.jobs.retrieve(job.id)
            outcomes.append(200)
        except openai.InternalServerError as error:
            outcomes.append(error.status_code)
    assert 3 <= outcomes.count(502) <= 20  # 10 % of them, seeded
    assert all(r.chaos_rule == "chaos_3" for r in mockft.requests if r.status == 502)
    slow = mockft.chaos_rules.rules()[3]  # not called: its 1.5 s would be real
    assert (slow.spec.latency_ms, slow.matches("GET", "/v1/models", None)) == (1500, True)


def test_flaky_api_fails_the_same_requests_every_run(tmp_path):
    from tests.test_scenario_export import app

    runs = []
    for _ in range(2):
        with app(EXAMPLES / "flaky-api.toml") as client:
            training = client.post(
                "/v1/files", files={"file": ("t.jsonl", TRAIN)}, data={"purpose": "fine-tune"}
            )
            assert training.status_code == 200
            job = "ftjob-abc"
            runs.append([client.get(f"/v1/fine_tuning/jobs/{job}").status_code for _ in range(50)])
    assert runs[0] == runs[1]
    assert set(runs[0]) == {404, 502}


@pytest.mark.mockft(scenario="../examples/scenarios/busy-queue.toml", clock="manual")
def test_busy_queue(mockft):
    client = mockft.openai()
    waits = []
    for _ in range(3):
        job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=upload(client))
        done = mockft.run_until_done(job.id)
        assert done.status == "succeeded"
        events = client.fine_tuning.jobs.list_events(job.id, limit=1000).data
        at = {e.message: e.created_at for e in events}
        waits.append(
            at["Fine-tuning job started"] - at["Validating training file: " + done.training_file]
        )
        steps = sorted((e.data["step"], e.created_at) for e in events if e.type == "metrics")
        pace = (steps[-1][1] - steps[0][1]) / (steps[-1][0] - steps[0][0])
        assert 20 <= pace <= 40, pace
    assert all(2 * 3600 <= w <= 6 * 3600 + 120 for w in waits), waits
    assert len(set(waits)) == 3  # drawn per job


def test_busy_queue_runs_a_system_clock_60_times_faster():
    loaded = read_files([EXAMPLES / "busy-queue.toml"])
    assert loaded.clock is not None
    assert (loaded.clock.mode, loaded.clock.speed) == ("system", 60)


@pytest.mark.mockft(scenario="../examples/scenarios/pretrained-model.toml")
def test_pretrained_model(mockft):
    model = "ft:gpt-4o-mini-2024-07-18:acme:support:Bq7xK2mP"
    acme = mockft.openai(api_key="sk-acme")
    assert model in [m.id for m in acme.models.list().data]
    (job,) = acme.fine_tuning.jobs.list().data
    assert (job.status, job.fine_tuned_model, job.finished_at) == ("succeeded", model, mockft.now())
    checkpoints = acme.fine_tuning.jobs.checkpoints.list(job.id).data
    assert [c.step_number for c in checkpoints] == [90, 75, 60]
    csv = base64.b64decode(acme.files.content(job.result_files[0]).read()).decode()
    assert csv.startswith("step,train_loss")
    assert ask(acme, model, "How do I get a refund?") == (
        "Refunds reach your account within 5 business days."
    )
    assert ask(acme, model, "ping") == "pong"
    assert ask(acme, model, "Who painted the Mona Lisa?") == (
        "Leonardo da Vinci. He did it without a single tutorial video, imagine that."
    )
    with pytest.raises(openai.AuthenticationError):
        mockft.openai(api_key="sk-unknown").models.list()


@pytest.mark.mockft(scenario="../examples/scenarios/release-gate.toml")
def test_release_gate(mockft):
    client = mockft.openai()
    listed = [m.id for m in client.models.list().data]
    assert "gpt-4o-mini-eu" in listed and "gpt-3.5-turbo-0613" not in listed
    training = upload(client)
    gated = client.fine_tuning.jobs.create(
        model="gpt-4o-mini-eu", training_file=training, metadata={"gate": "manual"}
    )
    mockft.advance(3 * 86_400)
    assert client.fine_tuning.jobs.retrieve(gated.id).status == "queued"
    mockft.release_job(gated.id)
    released = mockft.run_until_done(gated.id)
    assert released.status == "succeeded"
    assert released.fine_tuned_model.startswith("ft:gpt-4o-mini-eu:")
    abandoned = client.fine_tuning.jobs.create(
        model="gpt-4o-mini", training_file=training, suffix="abandon-lr-sweep"
    )
    assert mockft.run_until_done(abandoned.id).status == "cancelled"
    metrics = [
        e.data["step"]
        for e in client.fine_tuning.jobs.list_events(abandoned.id, limit=100).data
        if e.type == "metrics"
    ]
    assert max(metrics) == 10
    candidate = client.fine_tuning.jobs.create(
        model="gpt-4o-mini", training_file=training, suffix="rc-2025-09"
    )
    mockft.run_until_done(candidate.id)
    last = next(
        e for e in client.fine_tuning.jobs.list_events(candidate.id).data if e.type == "metrics"
    )
    assert last.data["step"] == last.data["total_steps"] == 30
    assert (last.data["train_loss"], last.data["train_mean_token_accuracy"]) == (0.05, 0.98)
    with pytest.raises(openai.BadRequestError):
        client.fine_tuning.jobs.create(model="gpt-3.5-turbo-0613", training_file=training)


@pytest.mark.mockft(scenario="../examples/scenarios/shared-checkpoint.toml")
def test_shared_checkpoint(mockft):
    model = "ft:gpt-4o-mini-2024-07-18:acme:support:Rs5Kq1Zt"
    research = mockft.openai(api_key="sk-research")
    (job,) = research.fine_tuning.jobs.list().data
    assert (job.status, job.fine_tuned_model) == ("succeeded", model)
    steps = {
        c.step_number: c.fine_tuned_model_checkpoint
        for c in research.fine_tuning.jobs.checkpoints.list(job.id).data
    }
    shared = steps[75]
    assert shared != model and shared.endswith(":ckpt-step-75")
    admin = mockft.openai(api_key="sk-acme-admin")
    (grant,) = admin.fine_tuning.checkpoints.permissions.list(shared).data
    assert (grant.project_id, grant.object) == ("proj_prod", "checkpoint.permission")
    assert grant.created_at == mockft.now()

    prod = mockft.openai(api_key="sk-prod")
    assert shared in [m.id for m in prod.models.list().data]
    assert model not in [m.id for m in prod.models.list().data]
    assert ask(prod, shared, "ping")  # answered, from the model's training data
    staging = mockft.openai(api_key="sk-staging")
    for client, name in ((staging, shared), (prod, model)):
        with pytest.raises(openai.NotFoundError):
            ask(client, name, "ping")
        with pytest.raises(openai.NotFoundError):
            client.models.retrieve(name)
    with pytest.raises(openai.NotFoundError):  # acme's job is not acme-prod's
        prod.fine_tuning.jobs.retrieve(job.id)
    with pytest.raises(openai.AuthenticationError):  # only an admin key manages grants
        research.fine_tuning.checkpoints.permissions.list(shared)

    admin.fine_tuning.checkpoints.permissions.create(shared, project_ids=["proj_staging"])
    assert ask(staging, shared, "ping")
    admin.fine_tuning.checkpoints.permissions.delete(grant.id, fine_tuned_model_checkpoint=shared)
    with pytest.raises(openai.NotFoundError):
        ask(prod, shared, "ping")


# -- docs/scenarios.md ----------------------------------------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs" / "scenarios.md"


def blocks(language: str) -> list[str]:
    text = DOCS.read_text()
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.S | re.M)


def test_every_toml_block_of_the_guide_is_a_valid_scenario():
    found = blocks("toml")
    assert len(found) >= 6
    for i, block in enumerate(found):
        read_text(block, f"docs block {i}")  # raises ScenarioInvalid with every problem


def test_the_guides_python_example_is_python():
    (example,) = blocks("python")
    compile(example, "docs/scenarios.md", "exec")
    assert "/scenarios/pretrained-model.toml" in example


def test_the_guides_first_scenario_does_what_it_says(mockft):
    mockft.load_scenario(blocks("toml")[0])
    client = mockft.openai()
    training = upload(client)
    job = client.fine_tuning.jobs.create(
        model="gpt-4o-mini", training_file=training, suffix="fail-smoke"
    )
    assert [r.status for r in mockft.requests][-3:] == [429, 429, 200]
    done = mockft.run_until_done(job.id)
    assert (done.status, done.error.code) == ("failed", "invalid_training_file")
    steps = [
        e.data["step"]
        for e in client.fine_tuning.jobs.list_events(job.id, limit=100).data
        if e.type == "metrics"
    ]
    assert max(steps) == 3


def test_the_guides_links_lead_somewhere():
    readme = EXAMPLES / "README.md"
    for page in (DOCS, readme):
        targets = re.findall(r"\]\(([^)#:]+)(?:#[a-z-]+)?\)", page.read_text())
        assert targets, page
        for target in targets:
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
