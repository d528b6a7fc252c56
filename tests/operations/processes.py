"""`ector` as a separate process, the way the fault tests drive it."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

PREPARED_TO = "workflow"  # the report's own writer is tested separately: it takes most of a full run's time


def run_ector(workdir: Path, *args: str, limit_bytes: int | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m ector -q -w WORKDIR ARGS`, quiet; `limit_bytes` caps the size of any file it writes."""

    def limit() -> None:
        if limit_bytes is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return subprocess.run(
        [sys.executable, "-m", "ector", "-q", "-w", str(workdir), *args],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=limit,
    )
