"""`mockft validate`: the same judgement as the server, offline."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from mockft import cli
from tests.conftest import API_KEY, FIXTURES, in_process, make_settings
from tests.test_validation import (
    BAD,
    CASE_IDS,
    CASES,
    CREATE,
    FAILED,
    SUCCEEDED,
    UPLOAD,
    WARN,
    Case,
    server_decision,
)

EXIT_CODES = {SUCCEEDED: 0, FAILED: 1, UPLOAD: 1, CREATE: 2}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["validate", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], case: Case) -> tuple[int, dict[str, Any]]:
    code, out, err = run(
        capsys, str(case.path), "--model", case.model, "--method", case.method, "--json"
    )
    return code, json.loads(out) if out else {"usage_error": err}


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_exit_code_and_report(capsys: pytest.CaptureFixture[str], case: Case) -> None:
    code, report = run_json(capsys, case)
    assert code == EXIT_CODES[case.outcome]
    if case.outcome == CREATE:
        assert "is not available for" in report["usage_error"]
        return
    checks = {check["code"]: check for check in report["checks"]}
    if case.outcome == SUCCEEDED:
        assert report["valid"] and report["error"] is None
        assert report["billed_tokens"] == report["billable_tokens"] * report["n_epochs"]
        if case.check is not None:
            assert case.line in checks[case.check]["lines"]
        return
    assert report["error"]["check"] == case.check
    assert report["error"]["line"] == case.line
    assert checks[case.check]["count"] >= 1 and checks[case.check]["severity"] == "error"


def test_cli_and_server_agree_on_the_whole_corpus(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with in_process(make_settings(tmp_path)) as server:
        with server.openai(api_key=API_KEY, max_retries=0) as client:
            for case in CASES:
                decision = server_decision(client, server, case)
                code, report = run_json(capsys, case)
                assert code == EXIT_CODES[decision.outcome], (case.id, decision)
                if decision.outcome == FAILED:
                    job = decision.job
                    local = report["error"]["message"].replace(
                        f"Input file {case.path} ", f"Input file {job.training_file} "
                    )
                    assert local == job.error.message
                if decision.outcome == SUCCEEDED:
                    job = decision.job
                    # null at the top level for DPO jobs: the method shows what is used
                    used = getattr(job.method, job.method.type).hyperparameters
                    assert report["n_epochs"] == used.n_epochs
                    assert report["billed_tokens"] == job.trained_tokens


def test_text_report(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, str(WARN / "duplicates.jsonl"))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"mockft validate {WARN / 'duplicates.jsonl'}"
    assert "model gpt-4o-mini-2024-07-18, method supervised, chat examples" in lines[1]
    assert lines[1].endswith("tokens by bpe-openai:o200k_base")
    assert any(
        line.split()[:2] == ["warn", "duplicate"] and line.endswith("2  11, 12") for line in lines
    )
    assert any(line.split()[:3] == ["ok", "roles", "are"] and line.endswith(" 0") for line in lines)
    assert "  examples          12 (12 lines)" in lines
    assert any(line.startswith("  tokens/example    min ") for line in lines)
    assert '  epochs ("auto")   8' in lines  # 100 // 12
    assert any(
        line.startswith("  estimated cost    $") and "$3.00 per 1M" in line for line in lines
    )
    assert "  valid: a job with this file passes validation" in lines


def test_text_report_of_an_invalid_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(BAD / "bad_role.jsonl"))
    assert code == 1
    assert any(
        line.split()[:3] == ["FAIL", "roles", "are"] and line.endswith(" 1  5")
        for line in out.splitlines()
    )
    assert out.rstrip().endswith(
        "INVALID (invalid_file_format): The job failed due to a file format error in the "
        "training file. "
        'Invalid file format. Example 5, message 2 has an unrecognized role "robot"; expected '
        "one of assistant, function, system, tool, user."
    )


def test_hourly_priced_models_get_no_token_estimate(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(FIXTURES / "train_chat.jsonl"), "--model", "o4-mini")
    assert code == 0
    assert "method reinforcement" in out  # the model's only method
    assert "billed per hour of training ($100.00/hour)" in out
    code, out, _ = run(capsys, str(FIXTURES / "train_chat.jsonl"), "--model", "o4-mini", "--json")
    report = json.loads(out)
    assert (report["estimated_cost"], report["price_per_hour"]) == (None, 100.0)


def test_defaults_follow_the_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(FIXTURES / "train_prompt_completion.jsonl"), "--json")
    assert code == 0 and json.loads(out)["model"] == "babbage-002"
    code, out, _ = run(capsys, str(FIXTURES / "train_dpo.jsonl"), "--json")
    report = json.loads(out)
    assert code == 0 and (report["model"], report["method"]) == ("gpt-4o-mini-2024-07-18", "dpo")
    code, out, _ = run(capsys, str(FIXTURES / "train_dpo.jsonl"), "--method", "supervised")
    assert code == 1 and "is in the fine-tune-preference format" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["missing.jsonl"], "no such file: missing.jsonl"),
        ([str(FIXTURES / "train_chat.jsonl"), "--model", "gpt-nope"], "gpt-nope is not a known"),
        ([str(FIXTURES / "train_chat.jsonl"), "--model", "whisper-1"], "cannot be fine-tuned"),
        (
            [str(FIXTURES / "train_dpo.jsonl"), "--model", "davinci-002", "--method", "dpo"],
            "Model davinci-002 is not available for dpo fine-tuning",
        ),
    ],
)
def test_usage_errors(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "") and message in err


def test_unknown_method_is_an_argparse_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["validate", str(FIXTURES / "train_chat.jsonl"), "--method", "rlhf"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'rlhf'" in capsys.readouterr().err


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal_for_a_large_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(capsys, str(FIXTURES / "train_chat.jsonl"))
    assert (code, err) == (0, "")
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    assert cli.main(["validate", str(FIXTURES / "train_chat.jsonl")]) == 0
    assert terminal.getvalue() == ""  # a small file: done before a bar would help
    capsys.readouterr()
    monkeypatch.setattr(cli, "PROGRESS_MIN_BYTES", 0)  # as if the file were large
    assert cli.main(["validate", "--json", str(FIXTURES / "train_chat.jsonl")]) == 0
    shown = terminal.getvalue()
    assert "validating [" in shown and "100%" in shown
    assert shown.endswith("\r\033[K")  # the bar is erased before the report
    report = json.loads(capsys.readouterr().out)  # the JSON on stdout holds no bar
    assert report["valid"] is True
