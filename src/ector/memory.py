"""How much memory this machine can give a stage: what a stage that holds its data checks before it starts."""

from __future__ import annotations

from pathlib import Path

MEMINFO = Path("/proc/meminfo")


def available_bytes() -> int | None:
    """The memory the kernel can give without swapping (Linux `MemAvailable`), or None where it does not say."""
    try:
        text = MEMINFO.read_text(encoding="ascii")
    except OSError:
        return None
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name == "MemAvailable":
            kib = value.split()[0]
            return int(kib) * 1024 if kib.isdigit() else None
    return None
