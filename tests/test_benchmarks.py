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
        "import sys\nprint(sorted(m for m in sys.modules if m.split('.')[0] == 'eesite'))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    seconds, modules = done.stdout.strip().splitlines()[-2:]
    assert 0 < float(seconds) < 60
    assert modules == "[]"
