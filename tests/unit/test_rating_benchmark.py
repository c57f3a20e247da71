"""The GetCost benchmark script runs (tiny sizes, in-process only); the real figures are in docs/performance.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_getcost.py"


def test_benchmark_script_runs_with_a_tiny_plan():
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--sizes", "100,300", "--runs", "200", "--no-rpc"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    report = json.loads(out)
    sizes = [r["size"] for r in report["results"]]
    assert sizes == [100, 300]
    for r in report["results"]:
        # 2m10s at 0.01/s plus the 0.1 connect fee
        assert r["cost"] == 1.4
        assert r["per_s"] > 0
    assert report["largest_over_smallest_time_ratio"] > 0
