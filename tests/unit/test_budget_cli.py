"""`coinswarm budget` through the real command line: the table, --json, exit codes, --max-share."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from coinswarm.cli.main import main

BIN = Path(sys.executable).parent / "coinswarm"


@pytest.fixture(autouse=True)
def no_local_config(tmp_path, monkeypatch) -> None:
    """Built-in defaults: no ./coinswarm.toml, no COINSWARM_* from the developer's shell."""
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("COINSWARM_")]:
        monkeypatch.delenv(key)


def test_the_default_prints_the_table_and_exits_0_within_every_share(capsys) -> None:
    assert main(["budget"]) == 0
    out = capsys.readouterr().out
    assert "3 symbols every 1 min · mesh wiring · chain invoke · functions aws: 6" in out
    assert "Lambda requests" in out and "433,740 requests" in out and "43.4%" in out
    assert "SQS requests" not in out  # nothing polls: not used, so not listed
    assert "OK: every quota within 50% of its free tier, no trap" in out


def test_the_queue_chain_prints_the_table_and_exits_1_naming_what_is_over(capsys, monkeypatch) -> None:
    monkeypatch.setenv("COINSWARM_DEPLOY__CHAIN", "queues")
    assert main(["budget"]) == 1
    out = capsys.readouterr().out
    assert "chain queues" in out and "https://aws.amazon.com/sqs/pricing/" in out
    assert "OVER the 50% limit: SQS requests 376%" in out


def test_fused_wiring_from_the_environment_fits_and_exits_0(capsys, monkeypatch) -> None:
    monkeypatch.setenv("COINSWARM_WIRING", "fused")
    assert main(["budget"]) == 0
    assert "OK: every quota within 50% of its free tier, no trap" in capsys.readouterr().out


def test_max_share_flag_overrides_the_configuration(capsys, monkeypatch) -> None:
    monkeypatch.setenv("COINSWARM_WIRING", "fused")
    assert main(["budget", "--max-share", "45%"]) == 1  # DynamoDB capacity is at 48 %
    assert "OVER the 45% limit: DynamoDB read capacity 48%, DynamoDB write capacity 48%" in capsys.readouterr().out
    assert main(["budget", "--max-share", "0.5"]) == 0


def test_a_bad_share_is_refused_with_what_to_give(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["budget", "--max-share", "150%"])
    assert exc.value.code == 2
    assert "is not a share in (0, 1] (0.5 or 50%)" in capsys.readouterr().err


def test_a_trap_fails_even_within_every_share(capsys, tmp_path) -> None:
    config = tmp_path / "warm.toml"
    config.write_text('wiring = "fused"\n[deploy]\nmin_instances = { tick_ingest = 1 }\n')
    assert main(["budget", "--config", str(config), "--max-share", "1"]) == 1
    assert "TRAP always_warm: always-warm instances: tick_ingest (1)" in capsys.readouterr().out


def test_json_is_a_list_of_every_line_with_its_figures(capsys) -> None:
    assert main(["budget", "--json"]) == 0
    lines = json.loads(capsys.readouterr().out)
    assert isinstance(lines, list) and len(lines) >= 27
    for line in lines:
        assert {"quota", "cloud", "used", "limit", "share", "unit", "source", "checked"} <= set(line)
        assert line["share"] == pytest.approx(line["used"] / line["limit"], rel=1e-5, abs=1e-6)
    sqs = next(x for x in lines if x["quota"] == "SQS requests")
    assert (sqs["cloud"], sqs["used"], sqs["limit"]) == ("aws", 0, 1_000_000)
    requests = next(x for x in lines if x["quota"] == "Lambda requests")
    assert (requests["used"], requests["share"]) == (433_740, 0.43374)


def test_the_installed_command_runs_as_a_subprocess(tmp_path) -> None:
    done = subprocess.run(
        [str(BIN), "budget", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert {x["cloud"] for x in json.loads(done.stdout)} == {"aws", "gcp", "azure"}


def test_help_teaches_the_exit_status_and_the_traps(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["budget", "--help"])
    out = capsys.readouterr().out
    assert "Exit status: 0 when every share is within --max-share" in out
    assert "Step Functions standard" in out and "COINSWARM_WIRING=fused coinswarm budget" in out
