"""The benchmark's own parts that a wrong figure would hide (benchmarks/run.py)."""

import subprocess
import sys
from pathlib import Path

from benchmarks import run

ROOT = Path(__file__).resolve().parent.parent


def test_the_machine_speed_workload_uses_no_code_of_eesites():
    """`make bench` prints how fast the machine was (its speed drifts by the hour) with a fixed
    workload: it must not change when eesite's code does, so it imports no eesite module."""
    code = run._CALIBRATE + (
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'eesite'))\n")
    done = subprocess.run([sys.executable, "-c", code, str(ROOT)], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    seconds, modules = done.stdout.strip().splitlines()[-2:]
    assert 0 < float(seconds) < 60
    assert modules == "[]"


def test_the_machine_speed_is_measured_from_any_folder_and_a_failure_loses_no_table(
        tmp_path, monkeypatch):
    """`calibrate` runs from wherever the benchmark is started; when its workload fails the
    line says so, and the benchmark still prints its table (it never fails on speed)."""
    monkeypatch.chdir(tmp_path)
    seconds = run.calibrate()
    assert seconds is not None and 0 < seconds < 60
    assert f"{seconds * 1000:.0f} ms before" in run.speed_line(seconds, None)
    monkeypatch.setattr(run, "_CALIBRATE", "raise SystemExit(3)")
    assert run.calibrate() is None
    assert "unknown (the run failed) after" in run.speed_line(seconds, None)
