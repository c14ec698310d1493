"""Scenarios as a user meets them: a file that says what a server starts with and what
happens next, loaded through the pytest marker, the handle and `POST /mockft/scenario`,
and seen through the unchanged SDK."""

from __future__ import annotations

import base64
import textwrap
from collections.abc import Iterator

import openai
import pytest
from starlette.testclient import TestClient

from mockft.app import create_app
from mockft.config import Settings
from mockft.scenario.loader import ScenarioInvalid
from tests.conftest import FIXTURES

TRAIN = (FIXTURES / "train_chat.jsonl").read_bytes()
TRAIN_TEXT = TRAIN.decode()
START = 1_717_232_400  # 2024-06-01T09:00:00Z
SUPPORT_MODEL = "ft:gpt-4o-mini-2024-07-18:acme:support:abc12345"


def toml(text: str) -> str:
    return textwrap.dedent(text).lstrip()


def upload(client: openai.OpenAI, data: bytes = TRAIN, name: str = "train.jsonl") -> str:
    return client.files.create(file=(name, data), purpose="fine-tune").id


# -- the bar: what a scenario written from the docs does --------------------------------


def test_a_job_with_a_matching_suffix_fails_at_the_named_step_with_the_named_code(mockft):
    mockft.load_scenario(
        toml("""
        [[outcomes]]
        match = { suffix = "fail-*" }
        fail = { at_step = 3, code = "invalid_training_file" }
        """)
    )
    client = mockft.openai()
    training = upload(client)
    job = client.fine_tuning.jobs.create(
        model="gpt-4o-mini", training_file=training, suffix="fail-nightly"
    )
    done = mockft.run_until_done(job.id)
    assert done.status == "failed"
    assert done.error.code == "invalid_training_file"
    assert done.error.message == "The job failed due to an invalid training file."
    assert done.error.param == "training_file"
    events = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=5).data]
    assert events[:2] == [
        "The job failed due to an invalid training file.",
        "Step 3/90: training loss=1.15",
    ]
    other = client.fine_tuning.jobs.create(
        model="gpt-4o-mini", training_file=training, suffix="nightly"
    )
    assert mockft.run_until_done(other.id).status == "succeeded"


@pytest.mark.mockft(scenario="data/scenarios/support.toml")
def test_a_seeded_succeeded_job_and_its_model_are_there_and_callable_at_start(mockft):
    assert mockft.now() == START
    acme = mockft.openai(api_key="sk-acme")
    (job,) = acme.fine_tuning.jobs.list().data
    assert job.status == "succeeded"
    assert job.fine_tuned_model == SUPPORT_MODEL
    assert job.finished_at == START
    assert job.created_at < job.finished_at
    assert SUPPORT_MODEL in [m.id for m in acme.models.list().data]
    checkpoints = acme.fine_tuning.jobs.checkpoints.list(job.id).data
    assert [c.step_number for c in checkpoints] == [90, 75, 60]
    assert checkpoints[0].fine_tuned_model_checkpoint == SUPPORT_MODEL
    (result_file,) = job.result_files
    csv = base64.b64decode(acme.files.content(result_file).read()).decode()
    assert csv.startswith("step,train_loss") and csv.count("\n") == 91
    (training,) = [f for f in acme.files.list().data if f.purpose == "fine-tune"]
    assert training.created_at < job.created_at  # uploaded before the job was created
    answer = acme.chat.completions.create(
        model=SUPPORT_MODEL,
        messages=[{"role": "user", "content": "What's the capital of France?"}],
    )
    assert answer.choices[0].message.content == "Paris, as if everyone doesn't know that already."
    # the default organization (the handle's key) sees none of acme's objects
    assert mockft.openai().fine_tuning.jobs.list().data == []


def test_a_chaos_rule_gives_two_429s_then_success_through_the_sdk(mockft):
    mockft.load_scenario(
        toml("""
        [[chaos]]
        path = "/v1/fine_tuning/jobs"
        method = "GET"
        status = 429
        times = 2
        retry_after_ms = 1
        """)
    )
    listed = mockft.openai().fine_tuning.jobs.list()  # the SDK's default max_retries=2
    assert listed.data == []
    assert [r.status for r in mockft.requests] == [429, 429, 200]
    assert [r.chaos_rule for r in mockft.requests] == ["chaos_1", "chaos_1", None]


def test_after_lets_the_first_requests_through_the_second_upload_gets_a_429(mockft):
    mockft.load_scenario(
        toml("""
        [[chaos]]
        path = "/v1/files"
        method = "POST"
        status = 429
        after = 1
        times = 1
        """)
    )
    client = mockft.openai(max_retries=0)
    upload(client)
    with pytest.raises(openai.RateLimitError):
        upload(client)
    upload(client)
    assert [r.status for r in mockft.requests] == [200, 429, 200]
    (rule,) = mockft.chaos_rules.rules()
    assert (rule.matched, rule.injected, rule.remaining) == (2, 1, 0)  # spent: not asked


def test_an_exported_rule_keeps_what_is_left_of_after(mockft):
    rule = mockft.chaos(path="/v1/models", status=503, after=3, times=2)
    client = mockft.openai(max_retries=0)
    client.models.list()
    exported = mockft.export_scenario()
    assert "after = 2\n" in exported and "times = 2\n" in exported
    mockft.clear_chaos()
    mockft.load_scenario(exported)
    client.models.list()
    client.models.list()
    with pytest.raises(openai.InternalServerError):
        client.models.list()
    assert rule.injected == 0


def test_a_malformed_scenario_is_refused_with_every_problem_at_its_line(mockft):
    bad = toml("""
        [[jobs]]
        training_file = "missing.jsonl"
        status = "finished"

        [[outcomes]]
        match = { sufix = "x" }
        fail = {}
        """)
    answer = mockft.http_client().post(
        "/mockft/scenario", content=bad, params={"source": "team.toml"}
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid_scenario"
    assert error["type"] == "invalid_request_error"
    assert error["message"].splitlines() == [
        "team.toml:3: jobs[0].status: Input should be 'validating_files', 'queued', 'running', "
        "'paused', 'succeeded', 'failed' or 'cancelled'",
        "team.toml:6: outcomes[0].match: unknown key 'sufix' (did you mean 'suffix'?)",
    ]
    with pytest.raises(ScenarioInvalid):
        mockft.load_scenario('[[files]]\nname = "x.jsonl"\n')


# -- seed state ------------------------------------------------------------------------------


def test_seeded_jobs_are_in_every_status_they_are_given(mockft):
    summary = mockft.load_scenario(
        toml(f"""
        [[files]]
        name = "train.jsonl"
        content = '''
        {TRAIN_TEXT}'''

        [[jobs]]
        training_file = "train.jsonl"
        status = "running"
        at_step = 7
        [[jobs]]
        training_file = "train.jsonl"
        status = "paused"
        at_step = 20
        [[jobs]]
        training_file = "train.jsonl"
        status = "queued"
        held = true
        [[jobs]]
        training_file = "train.jsonl"
        status = "failed"
        at_step = 5
        error = {{ code = "server_error" }}
        [[jobs]]
        training_file = "train.jsonl"
        status = "cancelled"
        [[jobs]]
        training_file = "train.jsonl"
        status = "validating_files"
        """)
    )
    statuses = [j["status"] for j in summary["jobs"]]
    assert statuses == ["running", "paused", "queued", "failed", "cancelled", "validating_files"]
    client = mockft.openai()
    running, paused, queued, failed, _, validating = (
        client.fine_tuning.jobs.retrieve(j["id"]) for j in summary["jobs"]
    )
    events = client.fine_tuning.jobs.list_events(running.id, limit=1).data
    assert events[0].message.startswith("Step 7/90")
    assert client.fine_tuning.jobs.list_events(paused.id, limit=1).data[0].message == (
        "Fine-tuning job paused"
    )
    assert failed.error.message == "The job failed due to an internal error."
    assert failed.finished_at == mockft.now()
    mockft.advance(30 * 86_400)
    assert client.fine_tuning.jobs.retrieve(queued.id).status == "queued"  # held
    assert client.fine_tuning.jobs.retrieve(running.id).status == "succeeded"
    assert client.fine_tuning.jobs.retrieve(paused.id).status == "paused"
    assert client.fine_tuning.jobs.retrieve(validating.id).status == "succeeded"
    mockft.release_job(queued.id)
    assert mockft.run_until_done(queued.id).status == "succeeded"


def test_a_seeded_job_on_a_bad_file_can_only_fail(mockft):
    bad = (FIXTURES / "bad" / "missing_role.jsonl").read_text()
    scenario = toml(f"""
        [[files]]
        name = "bad.jsonl"
        content = '''
        {bad}'''
        [[jobs]]
        training_file = "bad.jsonl"
        """)
    with pytest.raises(ScenarioInvalid) as caught:
        mockft.load_scenario(scenario)
    (problem,) = caught.value.problems
    lines = [text.strip() for text in scenario.splitlines()]
    line = lines.index("[[jobs]]") + 1  # the job's table: its status is not given
    assert str(problem) == (
        f"scenario.toml:{line}: jobs[0].status: its files fail validation, so it cannot be "
        "succeeded: The job failed due to a file format error in the training file. Invalid "
        "file format. Example 3, message 2 Discriminator 'role' is missing in value"
    )
    summary = mockft.load_scenario(
        toml(f"""
        [[files]]
        name = "bad.jsonl"
        content = '''
        {bad}'''
        [[jobs]]
        training_file = "bad.jsonl"
        status = "failed"
        """)
    )
    job = mockft.openai().fine_tuning.jobs.retrieve(summary["jobs"][0]["id"])
    assert job.error.code == "invalid_file_format"
    assert job.finished_at is None  # as a validation failure on the real API


def test_a_scenario_with_a_problem_changes_nothing(mockft):
    with pytest.raises(ScenarioInvalid) as caught:
        mockft.load_scenario(
            toml("""
            [[files]]
            name = "ok.jsonl"
            content = '{"messages": []}'
            [[jobs]]
            training_file = "nowhere.jsonl"
            [[chaos]]
            status = 500
            """)
        )
    assert [str(p) for p in caught.value.problems] == [
        "scenario.toml:5: jobs[0].training_file: no fine-tune file nowhere.jsonl in the "
        "scenario or on the server"
    ]
    client = mockft.openai()
    assert client.files.list().data == []
    assert mockft.chaos_rules.rules() == []


def test_a_scenario_sent_over_http_carries_its_files(mockft):
    answer = mockft.http_client().post(
        "/mockft/scenario", content='[[files]]\nname = "t.jsonl"\npath = "/etc/passwd"\n'
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["message"].startswith(
        "scenario.toml:3: files[0].path: a scenario sent to the server carries its files"
    )


def test_loading_a_scenario_twice_seeds_once(mockft):
    text = toml(f"""
        [[files]]
        name = "train.jsonl"
        content = '''
        {TRAIN_TEXT}'''
        [[jobs]]
        training_file = "train.jsonl"
        """)
    first = mockft.load_scenario(text)
    second = mockft.load_scenario(text)
    assert [j["status"] for j in first["jobs"]] == ["succeeded"]
    assert (second["jobs"], second["files"]) == ([], [])  # found, left as they are
    client = mockft.openai()
    assert len(client.fine_tuning.jobs.list().data) == 1
    assert [f.filename for f in client.files.list().data] == ["step_metrics.csv", "train.jsonl"]


@pytest.mark.mockft(scenario="data/scenarios/support.toml")
def test_a_reset_brings_back_the_scenario_the_app_started_with(mockft):
    acme = mockft.openai(api_key="sk-acme")
    first = acme.fine_tuning.jobs.list().data[0]
    acme.models.delete(SUPPORT_MODEL)
    mockft.advance(3600)
    mockft.reset()
    assert mockft.now() == START
    again = acme.fine_tuning.jobs.list().data
    assert [j.model_dump() for j in again] == [first.model_dump()]
    assert acme.models.retrieve(SUPPORT_MODEL).id == SUPPORT_MODEL


def test_base_models_added_and_removed(mockft):
    mockft.load_scenario(
        toml("""
        [models]
        remove = ["gpt-3.5-turbo-0613"]
        [[models.add]]
        id = "gpt-5-mini-2025-08-07"
        like = "gpt-4.1-mini-2025-04-14"
        created = 1754524800
        """)
    )
    client = mockft.openai()
    listed = [m.id for m in client.models.list().data]
    assert "gpt-5-mini-2025-08-07" in listed and "gpt-3.5-turbo-0613" not in listed
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-3.5-turbo-0613")
    assert client.models.retrieve("gpt-5-mini-2025-08-07").created == 1754524800
    training = upload(client)
    job = client.fine_tuning.jobs.create(model="gpt-5-mini-2025-08-07", training_file=training)
    assert mockft.run_until_done(job.id).fine_tuned_model.startswith("ft:gpt-5-mini-2025-08-07:")
    with pytest.raises(openai.BadRequestError) as refused:
        client.fine_tuning.jobs.create(model="gpt-3.5-turbo-0613", training_file=training)
    assert refused.value.code == "model_not_available"


# -- outcome rules ----------------------------------------------------------------------------


def test_rules_match_on_model_method_metadata_file_and_organization(mockft):
    mockft.load_scenario(
        toml("""
        [[outcomes]]
        name = "experiments are cancelled"
        match = { metadata = { team = "research*" }, training_file = "exp-*.jsonl" }
        cancel = { at_step = 2 }

        [[outcomes]]
        name = "dpo on mini fails"
        match = { model = "gpt-4.1-mini*", method = "dpo" }
        fail = { in_state = "running", code = "server_error" }

        [[outcomes]]
        name = "everything else is slow"
        match = { org = "mockft" }
        slow = { queue = ["2h", "6h"] }
        """)
    )
    client = mockft.openai()
    experiment = upload(client, name="exp-1.jsonl")
    cancelled = client.fine_tuning.jobs.create(
        model="gpt-4o-mini", training_file=experiment, metadata={"team": "research-nlp"}
    )
    done = mockft.run_until_done(cancelled.id)
    assert done.status == "cancelled"
    events = client.fine_tuning.jobs.list_events(cancelled.id, limit=2).data
    assert [e.message for e in events][0] == "Fine-tuning job cancelled"
    dpo_file = upload(client, (FIXTURES / "train_dpo.jsonl").read_bytes(), "dpo.jsonl")
    dpo = client.fine_tuning.jobs.create(
        model="gpt-4.1-mini", training_file=dpo_file, method={"type": "dpo"}
    )
    failed = mockft.run_until_done(dpo.id)
    assert (failed.status, failed.error.code) == ("failed", "server_error")
    plain = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=upload(client))
    mockft.advance(3600)  # validated within a minute, then hours in the queue
    assert client.fine_tuning.jobs.retrieve(plain.id).status == "queued"
    assert mockft.run_until_done(plain.id).status == "succeeded"


def test_a_held_rule_keeps_jobs_in_the_queue_until_released(mockft):
    mockft.load_scenario('[[outcomes]]\nmatch = { suffix = "stuck" }\nhold = {}\n')
    client = mockft.openai()
    job = client.fine_tuning.jobs.create(
        model="gpt-4o-mini", training_file=upload(client), suffix="stuck"
    )
    mockft.advance(7 * 86_400)
    assert client.fine_tuning.jobs.retrieve(job.id).status == "queued"
    released = mockft.http_client().post(f"/mockft/jobs/{job.id}/release")
    assert released.status_code == 200
    assert mockft.run_until_done(job.id).status == "succeeded"


def test_succeed_shapes_the_run(mockft):
    mockft.load_scenario(
        toml("""
        [[outcomes]]
        succeed = { final_loss = 0.042, final_accuracy = 0.97, steps = 30, duration_scale = 2 }
        """)
    )
    client = mockft.openai()
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=upload(client))
    done = mockft.run_until_done(job.id)
    last = client.fine_tuning.jobs.list_events(job.id, limit=10).data
    metrics = [e for e in last if e.type == "metrics"][0]
    assert metrics.data["step"] == metrics.data["total_steps"] == 30
    assert metrics.data["train_loss"] == 0.042
    assert metrics.data["train_mean_token_accuracy"] == 0.97
    assert done.hyperparameters.batch_size == 3  # 15 examples x 6 epochs / 30 steps
    csv = base64.b64decode(client.files.content(done.result_files[0]).read()).decode()
    assert csv.splitlines()[-1].startswith("30,0.042,0.97")


def test_a_jobs_course_is_kept_with_it_whatever_rules_come_later(mockft):
    mockft.load_scenario("[[outcomes]]\nfail = { at_step = 2 }\n")
    client = mockft.openai()
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=upload(client))
    mockft.http_client().post("/mockft/reset")  # rules loaded at run time are forgotten...
    assert mockft.service.scenarios.rules.outcomes == ()
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=upload(client))
    assert mockft.run_until_done(job.id).status == "succeeded"
    mockft.load_scenario("[[outcomes]]\nfail = { at_step = 2 }\n")
    doomed = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=upload(client))
    mockft.load_scenario("[[outcomes]]\nsucceed = {}\n")  # ... and a job keeps its course
    assert mockft.run_until_done(doomed.id).status == "failed"


# -- answers ------------------------------------------------------------------------------------


def test_fixed_answers_by_model_and_prompt(mockft):
    mockft.load_scenario(
        toml("""
        [[answers]]
        model = "gpt-4o-mini*"
        prompt = "ping"
        reply = "pong"

        [[answers]]
        model = "ft:*"
        prompt_regex = "(?i)refund"
        reply = "Refunds take 5 days."

        [[answers]]
        model = "ft:*"
        prompt = "What's the capital of France?"
        from_training = true

        [[answers]]
        model = "ft:*"
        reply = "I only know about refunds."
        """)
    )
    client = mockft.openai()

    def ask(model: str, prompt: str) -> str | None:
        answer = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": prompt}]
        )
        return answer.choices[0].message.content

    assert ask("gpt-4o-mini", "ping") == "pong"
    assert ask("gpt-4o-mini-2024-07-18", "ping") == "pong"
    assert ask("gpt-4.1", "ping") != "pong"
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=upload(client))
    tuned = mockft.run_until_done(job.id).fine_tuned_model
    assert ask(tuned, "Can I get a REFUND?") == "Refunds take 5 days."
    assert ask(tuned, "What's the capital of France?") == (
        "Paris, as if everyone doesn't know that already."
    )
    assert ask(tuned, "anything") == "I only know about refunds."
    completion = client.completions.create(model="babbage-002", prompt="ping")
    assert completion.choices[0].text != "pong"  # not a gpt-4o-mini model


def test_an_answer_pattern_re2_refuses_is_a_problem(mockft):
    with pytest.raises(ScenarioInvalid) as caught:
        mockft.load_scenario('[[answers]]\nprompt_regex = "(a)\\\\1"\nreply = "x"\n')
    assert str(caught.value.problems[0]).startswith("scenario.toml:1: answers[0]: a pattern RE2")


# -- the clock ------------------------------------------------------------------------------------


def test_a_scenario_loaded_at_run_time_moves_a_manual_clock_forward_only(mockft):
    mockft.load_scenario(f"[clock]\nstart = {START + 10**8}\n")
    assert mockft.now() == START + 10**8
    mockft.load_scenario(f"[clock]\nstart = {START}\n")  # never back
    assert mockft.now() == START + 10**8


@pytest.mark.mockft(clock="system", speed=5)
def test_a_scenario_sets_a_system_clocks_speed(mockft):
    mockft.load_scenario("[clock]\nspeed = 1000\n")
    assert mockft.service.clock.speed == 1000


# -- who may load ------------------------------------------------------------------------------


@pytest.fixture
def keyed() -> Iterator[TestClient]:
    settings = Settings(
        memory=True,
        clock="manual",
        api_keys=("sk-a=team-a", "sk-b=team-b"),
        control_keys=("sk-root",),
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_only_a_control_key_loads_or_exports_a_scenario(keyed):
    scenario = "[[chaos]]\nstatus = 503\n"
    for method in ("post", "get"):
        refused = keyed.request(
            method, "/mockft/scenario", content=scenario, headers={"Authorization": "Bearer sk-a"}
        )
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "control_key_required"
    root = {"Authorization": "Bearer sk-root"}
    loaded = keyed.post("/mockft/scenario", content=scenario, headers=root)
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["chaos"] == ["chaos_1"]
    exported = keyed.get("/mockft/scenario", headers=root)
    assert exported.headers["content-type"].startswith("application/toml")
    assert "status = 503" in exported.text


def test_a_scenario_adds_organizations_and_keys_at_run_time(keyed):
    root = {"Authorization": "Bearer sk-root"}
    scenario = toml("""
        [[organizations]]
        name = "team-c"
        keys = ["sk-c"]
        [[organizations]]
        name = "team-d"
        keys = ["sk-a"]
        """)
    clash = keyed.post("/mockft/scenario", content=scenario, headers=root)
    assert clash.status_code == 400
    assert clash.json()["error"]["message"] == (
        "scenario.toml:6: organizations[1].keys[0]: already a key of team-a"
    )
    ok = keyed.post(
        "/mockft/scenario",
        content=scenario.split('[[organizations]]\nname = "team-d"')[0],
        headers=root,
    )
    assert ok.status_code == 200, ok.text
    models = keyed.get("/v1/models", headers={"Authorization": "Bearer sk-c"})
    assert models.status_code == 200
    assert models.headers["openai-organization"] == "team-c"


def test_a_json_scenario_is_accepted_with_a_json_content_type(keyed):
    root = {"Authorization": "Bearer sk-root", "Content-Type": "application/json"}
    loaded = keyed.post("/mockft/scenario", content='{"chaos": [{"status": 502}]}', headers=root)
    assert loaded.status_code == 200, loaded.text
    refused = keyed.post("/mockft/scenario", content='{"chaos": [{"status": 418}]}', headers=root)
    assert refused.status_code == 400
    assert refused.json()["error"]["message"].startswith("scenario.json: chaos[0].status:")


# -- limits ---------------------------------------------------------------------------------------


@pytest.mark.mockft(scenario="data/scenarios/limits.toml")
def test_a_scenarios_limits_apply_from_the_start(mockft):
    client = mockft.openai(max_retries=0)
    training = upload(client)
    first = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training)
    second = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training)
    with pytest.raises(openai.RateLimitError) as refused:
        client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training)
    assert refused.value.code == "daily_rate_limit_exceeded"
    while client.fine_tuning.jobs.retrieve(first.id).status != "running":
        mockft.advance(5)
    # one at a time: the second starts when the first ends
    assert client.fine_tuning.jobs.retrieve(second.id).status == "queued"
    done = mockft.run_until_done(first.id)
    finished = mockft.run_until_done(second.id)
    started = [
        e.created_at
        for e in client.fine_tuning.jobs.list_events(second.id, limit=100).data
        if e.message == "Fine-tuning job started"
    ]
    assert started == [done.finished_at] and finished.status == "succeeded"
    assert "max_jobs_per_day = 2\nmax_running_jobs = 1\n" in mockft.export_scenario()


def test_limits_loaded_at_run_time_change_them_from_then_on(mockft):
    client = mockft.openai(max_retries=0)
    training = upload(client)
    client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training)
    mockft.load_scenario("[limits]\nmax_jobs_per_day = 1\n")
    with pytest.raises(openai.RateLimitError):
        client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training)
    answer = mockft.http_client().get("/mockft/limits").json()
    assert (answer["max_jobs_per_day"], answer["max_running_jobs"]) == (1, None)
    with pytest.raises(ScenarioInvalid) as caught:
        mockft.load_scenario("[limits]\nmax_running_jobs = 0\n")
    assert str(caught.value.problems[0]).startswith("scenario.toml:2: limits.max_running_jobs:")


def test_a_seeded_job_continues_a_seeded_model(mockft):
    valid = (FIXTURES / "valid_chat.jsonl").read_text()
    mockft.load_scenario(
        toml(f"""
        [[files]]
        name = "first.jsonl"
        content = '''
        {TRAIN_TEXT}'''
        [[files]]
        name = "more.jsonl"
        content = '''
        {valid}'''

        [[jobs]]
        training_file = "first.jsonl"
        suffix = "one"
        fine_tuned_model = "ft:gpt-4o-mini-2024-07-18:mockft:one:AAAA1111"

        [[jobs]]
        model = "ft:gpt-4o-mini-2024-07-18:mockft:one:AAAA1111"
        training_file = "more.jsonl"
        suffix = "two"
        fine_tuned_model = "ft:gpt-4o-mini-2024-07-18:mockft:two:BBBB2222"
        """)
    )
    client = mockft.openai()
    jobs = {j.user_provided_suffix: j for j in client.fine_tuning.jobs.list().data}
    assert jobs["two"].model == "ft:gpt-4o-mini-2024-07-18:mockft:one:AAAA1111"
    answer = client.chat.completions.create(
        model="ft:gpt-4o-mini-2024-07-18:mockft:two:BBBB2222",
        messages=[{"role": "user", "content": "What's the capital of France?"}],
    )  # learned by the model it continues
    assert answer.choices[0].message.content == "Paris, as if everyone doesn't know that already."


# -- Weights & Biases ------------------------------------------------------------------------

WANDB = [{"type": "wandb", "wandb": {"project": "support"}}]


def test_an_organizations_wandb_key_lets_its_jobs_enable_the_integration(mockft):
    mockft.load_scenario(
        toml("""
        [[organizations]]
        name = "acme"
        keys = ["sk-acme"]
        wandb_key = "wk-acme-0123456789"

        [[organizations]]
        name = "beta"
        keys = ["sk-beta"]
        """)
    )
    acme = mockft.openai(api_key="sk-acme")
    job = acme.fine_tuning.jobs.create(
        model="gpt-4o-mini", training_file=upload(acme), integrations=WANDB
    )
    assert job.integrations[0].wandb.run_id == job.id
    beta = mockft.openai(api_key="sk-beta", max_retries=0)
    with pytest.raises(openai.BadRequestError) as refused:
        beta.fine_tuning.jobs.create(
            model="gpt-4o-mini", training_file=upload(beta), integrations=WANDB
        )
    assert refused.value.param == "integrations"
    exported = mockft.export_scenario()
    assert 'name = "acme"\nkeys = ["sk-acme"]\nwandb_key = "wk-acme-0123456789"\n' in exported


def test_a_wandb_key_of_a_starting_scenario_is_configured(tmp_path):
    scenario = tmp_path / "team.toml"
    scenario.write_text(
        '[[organizations]]\nname = "acme"\nkeys = ["sk-acme"]\nwandb_key = "wk-1"\n'
    )
    with TestClient(create_app(Settings(memory=True, scenario=(scenario,)))) as client:
        listed = client.get("/mockft/wandb", headers={"Authorization": "Bearer sk-acme"})
        (key,) = listed.json()["data"]
        assert (key["organization"], key["source"]) == ("acme", "configured")


# -- webhooks ---------------------------------------------------------------------------------


def test_a_seeded_job_announces_an_end_still_to_come_and_not_one_before_the_load(mockft):
    hook = mockft.webhooks  # listening from here on
    mockft.advance(10)
    summary = mockft.load_scenario(
        toml(f"""
        [[files]]
        name = "train.jsonl"
        content = '''
        {TRAIN_TEXT}'''

        [[jobs]]
        training_file = "train.jsonl"
        suffix = "done"

        [[jobs]]
        training_file = "train.jsonl"
        suffix = "running"
        status = "running"
        at_step = 7
        """)
    )
    done, running = (job["id"] for job in summary["jobs"])
    mockft.advance(1)
    assert hook.received == []  # the job that ended as the scenario loaded says nothing
    mockft.advance(86_400)  # nobody reads the job: its timer says when it ends
    (event,) = [r.event for r in hook.received]
    assert (event["type"], event["data"]["id"]) == ("fine_tuning.job.succeeded", running)
    assert done != running


# -- projects, admin keys and checkpoint permissions --------------------------------------

TEAM = toml(f"""
    [[organizations]]
    name = "lab"
    keys = ["sk-lab-user"]
    admin_keys = ["sk-lab-admin"]

    [[organizations.projects]]
    id = "proj_lab"
    keys = ["sk-lab"]

    [[organizations]]
    name = "shop"

    [[organizations.projects]]
    id = "proj_shop"
    keys = ["sk-shop"]

    [[files]]
    org = "lab"
    name = "train.jsonl"
    content = '''{TRAIN_TEXT}'''

    [[jobs]]
    org = "lab"
    training_file = "train.jsonl"
    suffix = "lab"
    fine_tuned_model = "ft:gpt-4o-mini-2024-07-18:lab:lab:x1"

    [[permissions]]
    model = "ft:gpt-4o-mini-2024-07-18:lab:lab:x1"
    projects = ["proj_shop", "proj_elsewhere"]
    """)


def test_project_keys_admin_keys_and_grants_load_at_run_time(keyed):
    root = {"Authorization": "Bearer sk-root"}
    loaded = keyed.post("/mockft/scenario", content=TEAM, headers=root)
    assert loaded.status_code == 200, loaded.text
    model = "ft:gpt-4o-mini-2024-07-18:lab:lab:x1"
    granted = loaded.json()["permissions"]
    assert [(g["model"], g["project_id"]) for g in granted] == [
        (model, "proj_shop"),
        (model, "proj_elsewhere"),
    ]

    def call(key: str, **headers: str) -> int:
        body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
        auth = {"Authorization": f"Bearer {key}", **headers}
        return keyed.post("/v1/chat/completions", json=body, headers=auth).status_code

    assert call("sk-shop") == 200  # another organization's project, granted
    assert call("sk-b") == 404  # team-b: no grant
    assert call("sk-lab") == call("sk-lab-user") == 200  # lab's own model
    assert call("sk-lab", **{"OpenAI-Project": "proj_other"}) == 401  # a project key's own
    assert call("sk-lab-user", **{"OpenAI-Project": "proj_lab"}) == 200  # a project of lab
    admin = {"Authorization": "Bearer sk-lab-admin"}
    listed = keyed.get(f"/v1/fine_tuning/checkpoints/{model}/permissions", headers=admin)
    assert [p["project_id"] for p in listed.json()["data"]] == ["proj_elsewhere", "proj_shop"]
    assert call("sk-lab-admin") == 401  # an admin key calls no model
    again = keyed.post("/mockft/scenario", content=TEAM, headers=root)  # seeds once
    assert again.status_code == 200
    relisted = keyed.get(f"/v1/fine_tuning/checkpoints/{model}/permissions", headers=admin)
    assert relisted.json()["data"] == listed.json()["data"]


def test_a_starting_scenario_configures_its_project_and_admin_keys():
    from mockft.scenario import loader, state

    settings = Settings(memory=True, clock="manual", api_keys=("sk-a=team-a",))
    started = state.settings_with(settings, loader.read_text(TEAM, "team.toml"))
    assert started.api_keys == (
        "sk-a=team-a",
        "sk-lab-user=lab",
        "sk-lab=lab/proj_lab",
        "sk-shop=shop/proj_shop",
    )
    assert started.admin_keys == ("sk-lab-admin=lab",)


def test_bad_projects_keys_and_permissions_are_problems_at_their_lines(keyed):
    bad = toml("""
        [[organizations]]
        name = "lab"
        admin_keys = ["sk-a"]

        [[organizations.projects]]
        id = "proj lab"
        keys = ["sk-x"]

        [[organizations.projects]]
        id = "proj_lab"
        keys = ["sk-b"]

        [[permissions]]
        model = "ft:gpt-4o-mini-2024-07-18:lab:lab:x1"
        projects = []

        [[permissions]]
        model = "ft:gpt-4o-mini-2024-07-18:lab:lab:x1"
        projects = ["proj_shop"]
        """)
    answer = keyed.post(
        "/mockft/scenario", content=bad, headers={"Authorization": "Bearer sk-root"}
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["message"].splitlines() == [
        "scenario.toml:6: organizations[0].projects[0].id: String should match pattern "
        "'^[^\\s/=,]{1,256}$'",
        "scenario.toml:15: permissions[0].projects: List should have at least 1 item after "
        "validation, not 0",
    ]
    answer = keyed.post(
        "/mockft/scenario",
        content=bad.replace('"proj lab"', '"proj_x"').replace("projects = []", 'projects = ["p"]'),
        headers={"Authorization": "Bearer sk-root"},
    )
    assert answer.json()["error"]["message"].splitlines() == [
        "scenario.toml:11: organizations[0].projects[1].keys[0]: already a key of team-b",
        "scenario.toml:3: organizations[0].admin_keys[0]: already a key of team-a",
        "scenario.toml:14: permissions[0].model: ft:gpt-4o-mini-2024-07-18:lab:lab:x1 is not a "
        "model of mockft (a succeeded job's model or checkpoint, of the scenario or the server)",
        "scenario.toml:18: permissions[1].model: ft:gpt-4o-mini-2024-07-18:lab:lab:x1 is not a "
        "model of mockft (a succeeded job's model or checkpoint, of the scenario or the server)",
    ]


def the_problem_at(mockft, text: str, marker: str) -> str:
    """The one problem of a scenario, which must be on the line of `marker`: its message."""
    with pytest.raises(ScenarioInvalid) as caught:
        mockft.load_scenario(text)
    (problem,) = caught.value.problems
    assert problem.line == text.count("\n", 0, text.index(marker)) + 1
    return str(problem.message)


def test_a_job_made_in_a_project_owns_its_models_there(mockft):
    """`project` on a job: its models belong to that project, so a grant naming it is a
    problem at its line, and an admin key granting it at run time gets the real 400; the
    job's project exports and loads back."""
    owned = TEAM.replace('suffix = "lab"', 'suffix = "lab"\nproject = "proj_lab"')
    mine = owned.replace('projects = ["proj_shop", "proj_elsewhere"]', 'projects = ["proj_lab"]')
    assert the_problem_at(mockft, mine, 'projects = ["proj_lab"]') == (
        "permissions[0].projects: proj_lab is the project the model was trained in: it has "
        "the model already"
    )
    mockft.load_scenario(owned)
    admin = mockft.openai(api_key="sk-lab-admin").fine_tuning.checkpoints.permissions
    with pytest.raises(openai.BadRequestError) as refused:
        admin.create("ft:gpt-4o-mini-2024-07-18:lab:lab:x1", project_ids=["proj_lab"])
    assert refused.value.message.endswith(
        "Cannot modify checkpoint permissions for the owning project: proj_lab"
    )
    exported = mockft.export_scenario()
    assert 'project = "proj_lab"' in exported


def test_a_grant_names_a_succeeded_jobs_checkpoint_by_its_step(mockft):
    team = TEAM.replace('projects = ["proj_shop", "proj_elsewhere"]', "step = 7\nprojects = ['p']")
    assert the_problem_at(mockft, team, "step = 7") == (
        "permissions[0].step: no checkpoint at step 7 (its checkpoints' steps: 60, 75, 90)"
    )
    running = TEAM.replace('suffix = "lab"', 'suffix = "lab"\nstatus = "running"')
    with pytest.raises(ScenarioInvalid) as caught:
        mockft.load_scenario(running)
    assert [str(p).split(": ", 1)[1] for p in caught.value.problems] == [
        "permissions[0].model: its job is running: only a succeeded job's models can be granted"
    ]
    at_step = "step = 75\nprojects = ['proj_shop']"
    loaded = mockft.load_scenario(
        TEAM.replace('projects = ["proj_shop", "proj_elsewhere"]', at_step)
    )
    (grant,) = loaded["permissions"]
    assert grant["model"].endswith(":ckpt-step-75") and grant["project_id"] == "proj_shop"
    shop = mockft.openai(api_key="sk-shop")
    assert grant["model"] in [m.id for m in shop.models.list().data]
