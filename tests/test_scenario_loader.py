"""Reading scenario files: every problem at its line, TOML's shapes located exactly, several
files merged with later files winning."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from mockft.scenario.loader import ScenarioInvalid, read_files, read_text, tomllib
from mockft.scenario.model import json_schema
from mockft.scenario.positions import key_lines


def problems(text: str, source: str = "s.toml") -> list[str]:
    with pytest.raises(ScenarioInvalid) as caught:
        read_text(text, source)
    return [str(p) for p in caught.value.problems]


def test_every_problem_is_reported_at_its_line():
    text = """\
[clock]
mode = "manul"

[[jobs]]
training_file = "train.jsonl"
stauts = "succeeded"

[[jobs]]
suffix = "x"

[[outcomes]]
match = { suffix = "fail-*" }
fail = { at_step = 0, code = "server_error" }

[[files]]
name = "a.jsonl"
"""
    assert problems(text) == [
        "s.toml:2: clock.mode: Input should be 'system' or 'manual'",
        "s.toml:6: jobs[0]: unknown key 'stauts' (did you mean 'status'?)",
        "s.toml:8: jobs[1]: missing key 'training_file'",
        "s.toml:13: outcomes[0].fail.at_step: Input should be greater than or equal to 1",
        "s.toml:15: files[0]: a file has exactly one of content, content_base64 and path",
    ]


def test_a_syntax_error_names_its_line_and_column():
    assert problems('[clock]\nmode = "manual"\nspeed = \n') == [
        "s.toml:3: not valid TOML: Invalid value (column 9)"
    ]
    assert problems('a = """\nnever closed\n') == [
        "s.toml:3: not valid TOML: Unterminated string (at the end of the file)"
    ]


def test_values_keep_their_types():
    found = problems('[[chaos]]\nstatus = "429"\n[[jobs]]\ntraining_file = 3\n')
    assert found[0].startswith("s.toml:2: chaos[0].status: Input should be")
    assert found[1] == "s.toml:4: jobs[0].training_file: Input should be a valid string"


def test_rules_that_say_too_much_or_nothing():
    found = problems(
        "[[outcomes]]\nfail = {}\ncancel = {}\n\n[[outcomes]]\nname = 'nothing'\n\n"
        "[[answers]]\nprompt = 'a'\nprompt_regex = 'b'\nreply = 'c'\n"
    )
    assert found == [
        "s.toml:1: outcomes[0]: an outcome has one end; got fail and cancel",
        "s.toml:5: outcomes[1]: a rule needs an outcome: succeed, fail, cancel, hold or slow",
        "s.toml:8: answers[0]: give prompt or prompt_regex, not both",
    ]


def test_a_job_says_what_its_status_allows():
    found = problems(
        '[[jobs]]\ntraining_file = "t.jsonl"\nstatus = "succeeded"\nheld = true\n'
        '[[jobs]]\ntraining_file = "t.jsonl"\nstatus = "queued"\nerror = { code = "x" }\n'
    )
    assert found == [
        "s.toml:1: jobs[0]: a succeeded job cannot be held",
        "s.toml:5: jobs[1]: error only applies to a failed job (this one is queued)",
    ]


def test_durations_read_as_people_write_them():
    loaded = read_text(
        '[[outcomes]]\nslow = { queue = ["2h", "6h"], step = "1m30s" }\n'
        "[[outcomes]]\nslow = { queue = 90 }\n",
        "s.toml",
    )
    assert loaded.outcomes[0].spec.slow is not None
    assert loaded.outcomes[0].spec.slow.queue == (7200.0, 21600.0)
    assert loaded.outcomes[0].spec.slow.step == (90.0, 90.0)
    assert loaded.outcomes[1].spec.slow is not None
    assert loaded.outcomes[1].spec.slow.queue == (90.0, 90.0)
    assert problems('[[outcomes]]\nslow = { queue = ["6h", "2h"] }\n') == [
        "s.toml:2: outcomes[0].slow.queue: the low end 21600 s is above the high end 7200 s"
    ]
    assert problems('[[outcomes]]\nslow = { queue = "soon" }\n')[0].startswith(
        's.toml:2: outcomes[0].slow.queue: "soon" is not a duration'
    )


def test_a_date_time_is_unix_seconds():
    loaded = read_text("[clock]\nstart = 2024-06-01T09:00:00Z\n", "s.toml")
    assert loaded.clock is not None and loaded.clock.start == 1_717_232_400
    local = read_text("[clock]\nstart = 2024-06-01T11:00:00+02:00\n", "s.toml")
    assert local.clock is not None and local.clock.start == 1_717_232_400


def test_json_scenarios_are_located_by_path():
    with pytest.raises(ScenarioInvalid) as caught:
        read_text('{"clock": {"mode": 1}}', "s.json", "json")
    assert [str(p) for p in caught.value.problems] == [
        "s.json: clock.mode: Input should be 'system' or 'manual'"
    ]


def test_the_position_scan_follows_every_toml_shape():
    text = """\
top = 1  # a comment
"quoted key" = 'x'
[server.clock]
start = 1979-05-27 07:32:00
[[files]]
content = \"\"\"
[[not.a.table]]
key = "inside a string"
\"\"\"
name = "a"
[[files]]
name.first = "dotted"
[[files.parts]]
n = [
  1,
  { deep = [2, 3] },  # inline table in a multi-line array
]
"""
    lines = key_lines(text)
    assert tomllib.loads(text)["files"][1]["parts"][0]["n"][1]["deep"] == [2, 3]
    assert lines[("top",)] == 1
    assert lines[("quoted key",)] == 2
    assert lines[("server", "clock", "start")] == 4
    assert lines[("files", 0, "content")] == 6
    assert lines[("files", 0, "name")] == 10
    assert ("not", "a", "table") not in lines
    assert lines[("files", 1, "name", "first")] == 12
    assert lines[("files", 1, "parts", 0)] == 13
    assert lines[("files", 1, "parts", 0, "n", 1, "deep", 1)] == 16


def test_later_files_win(tmp_path: Path):
    first = tmp_path / "a.toml"
    first.write_text(
        '[clock]\nmode = "manual"\nstart = 100\n'
        '[[files]]\nname = "t.jsonl"\ncontent = "old"\n'
        '[[outcomes]]\nname = "first"\nfail = {}\n'
        "[[chaos]]\nstatus = 500\n"
    )
    second = tmp_path / "b.toml"
    second.write_text(
        "[clock]\nstart = 200\n"
        '[[files]]\nname = "t.jsonl"\ncontent = "new"\n'
        '[[outcomes]]\nname = "second"\ncancel = {}\n'
        "[[chaos]]\nstatus = 503\n"
    )
    loaded = read_files([first, second])
    assert loaded.clock is not None
    assert (loaded.clock.mode, loaded.clock.start) == ("manual", 200)
    assert [f.spec.content for f in loaded.files] == ["new"]
    assert [r.spec.name for r in loaded.outcomes] == ["second", "first"]
    assert [r.spec.status for r in loaded.chaos] == [500, 503]


def test_problems_of_several_files_come_together(tmp_path: Path):
    good = tmp_path / "good.toml"
    good.write_text("[clock]\nspeed = 10\n")
    bad = tmp_path / "bad.toml"
    bad.write_text("[clock]\nspeed = -1\n")
    with pytest.raises(ScenarioInvalid) as caught:
        read_files([bad, tmp_path / "missing.toml", good])
    text = caught.value.text()
    assert f"{bad}:2: clock.speed: Input should be greater than 0" in text
    assert f"{tmp_path / 'missing.toml'}: cannot read it" in text


def test_the_schema_is_json_schema_of_the_file():
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    document = {
        "clock": {"mode": "manual", "start": "2024-06-01T09:00:00Z"},
        "outcomes": [{"match": {"suffix": "x-*"}, "slow": {"queue": ["2h", 7200]}}],
        "jobs": [{"training_file": "t.jsonl", "status": "running", "at_step": 3}],
    }
    assert list(validator.iter_errors(document)) == []
    assert list(validator.iter_errors({"jobs": [{"stauts": 1}]}))
    team = {
        "organizations": [
            {
                "name": "acme",
                "admin_keys": ["sk-admin"],
                "projects": [{"id": "proj_a", "keys": ["sk-a"]}],
            }
        ],
        "permissions": [{"model": "ft:gpt-4o-mini:acme:x:abc", "step": 2, "projects": ["p"]}],
    }
    assert list(validator.iter_errors(team)) == []
    team["organizations"][0]["projects"] = [{"id": "proj a"}]
    team["permissions"] = [{"model": "gpt-4o-mini", "projects": []}]
    assert len(list(validator.iter_errors(team))) == 3
    assert json.dumps(schema)  # serialisable for `mockft scenario schema`


def test_a_key_of_another_table_is_unknown_without_suggesting_itself():
    text = """\
[[answers]]
match = { model = "gpt-4o-mini" }
reply = "hi"
"""
    assert problems(text) == ["s.toml:2: answers[0]: unknown key 'match'"]
