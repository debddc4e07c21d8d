import subprocess
import sys

import pytest

from config.settings import ConfigError, load_settings
from tingjian.cli import main


def test_defaults_come_from_yaml() -> None:
    s = load_settings()
    assert s.kafka.partitions == 6
    assert s.business.timezone == "Asia/Shanghai"


def test_env_overrides_yaml_and_flags_override_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINGJIAN_KAFKA__PARTITIONS", "4")
    assert load_settings().kafka.partitions == 4
    s = load_settings({"kafka": {"partitions": 9}})
    assert s.kafka.partitions == 9
    # a flag for one key leaves the section's other keys alone
    assert s.kafka.bootstrap_servers == "127.0.0.1:19092"


def test_user_yaml_file_is_layered(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "t.yaml"
    f.write_text("web:\n  port: 9999\n", encoding="utf-8")
    monkeypatch.setenv("TINGJIAN_CONFIG", str(f))
    s = load_settings()
    assert s.web.port == 9999 and s.web.host == "127.0.0.1"


def test_unknown_key_in_yaml_is_rejected(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "t.yaml"
    f.write_text("kafka:\n  bootstrap_server: x:1\n", encoding="utf-8")
    monkeypatch.setenv("TINGJIAN_CONFIG", str(f))
    with pytest.raises(ConfigError, match=r"kafka\.bootstrap_server"):
        load_settings()


def test_invalid_setting_exits_2_with_one_line(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("TINGJIAN_SINK__BATCH_SIZE", "0")
    assert main(["topics", "create"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "sink.batch_size" in err


def test_invalid_flag_value_exits_2_in_a_real_process() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tingjian.cli", "triage", "--log-level", "LOUD"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--log-level" in lines[0] and "LOUD" in lines[0]


def test_bad_timezone_is_a_config_error(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("TINGJIAN_BUSINESS__TIMEZONE", "Mars/Olympus")
    monkeypatch.setenv("TINGJIAN_TRIAGE__METRICS_PORT", "0")
    assert main(["triage"]) == 2
    assert "business.timezone" in capsys.readouterr().err
