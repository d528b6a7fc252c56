"""Time and peak memory of one piece of Python code, each measured in a fresh subprocess.

A fresh interpreter per measurement keeps one measurement's memory out of the next one's peak;
`ru_maxrss` of the child is its peak resident set size.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass

_RUNNER = """
import json, resource, sys, time
{setup}
start = time.perf_counter()
{code}
seconds = time.perf_counter() - start
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": seconds, "peak_mb": peak_mb}}))
"""


@dataclass(frozen=True)
class Measurement:
    name: str
    seconds: float
    peak_mb: float


def measure(name: str, code: str, setup: str = "", repeat: int = 1) -> Measurement:
    """The best time of `repeat` runs of `code` (after `setup`, untimed) and the peak RSS of that run."""
    best: Measurement | None = None
    script = _RUNNER.format(setup=textwrap.dedent(setup), code=textwrap.dedent(code))
    for _ in range(repeat):
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{name} failed:\n{result.stderr[-3000:]}")
        data = json.loads(result.stdout.strip().splitlines()[-1])
        run = Measurement(name, data["seconds"], data["peak_mb"])
        if best is None or run.seconds < best.seconds:
            best = run
    assert best is not None
    return best


def table(rows: list[Measurement], reference: str) -> str:
    """A plain-text table of measurements with each time's ratio to the reference's."""
    ref = next(r for r in rows if r.name == reference)
    lines = [f"{'measurement':<34} {'seconds':>9} {'x ' + reference:>16} {'peak MB':>9}"]
    for r in rows:
        lines.append(f"{r.name:<34} {r.seconds:>9.2f} {r.seconds / ref.seconds:>16.2f} {r.peak_mb:>9.0f}")
    return "\n".join(lines)


@dataclass(frozen=True)
class Run:
    """One command run to completion in its own process: wall and CPU seconds, peak RSS, exit code."""

    name: str
    seconds: float
    cpu_seconds: float
    peak_mb: float
    exit_code: int
    stderr: str


# A child's peak RSS starts at its parent's RSS when forked (Linux keeps the high-water mark across exec), so
# a large parent would inflate every small measurement: a fresh, small interpreter starts the command instead.
_LAUNCHER = """
import json, os, subprocess, sys, time
start = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print(json.dumps({"seconds": time.perf_counter() - start, "cpu": usage.ru_utime + usage.ru_stime,
                  "peak_mb": usage.ru_maxrss / 1024, "exit_code": os.waitstatus_to_exitcode(status)}))
"""


def run_command(name: str, command: list[str], env: dict[str, str] | None = None) -> Run:
    """Run `command` in a fresh process: its own wall time, CPU time and peak RSS (wait4's rusage)."""
    import os

    launcher = [sys.executable, "-S", "-c", _LAUNCHER, *command]
    done = subprocess.run(launcher, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False)
    try:
        data = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return Run(name, 0.0, 0.0, 0.0, done.returncode or 1, done.stderr[-3000:])
    return Run(name, data["seconds"], data["cpu"], data["peak_mb"], data["exit_code"], done.stderr[-3000:])
