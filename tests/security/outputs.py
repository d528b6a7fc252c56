"""Running the real `ector` process and reading back everything it left: streams and every file.

Parquet files are compressed, so a byte search of them proves nothing: they are decoded and every value is
searched as text. Everything else is searched as raw bytes.
"""

from __future__ import annotations

import html
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

import polars as pl


@dataclass
class Run:
    code: int
    stdout: bytes
    stderr: bytes


def ector(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> Run:
    """Run `python -m ector ARGS` in `cwd` with only the given ECTOR_ variables; the streams are pipes."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ECTOR_")}
    done = subprocess.run(
        [sys.executable, "-m", "ector", *args],
        cwd=cwd,
        env={**clean, "NO_COLOR": "1", **(env or {})},
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def byte_forms(secret: str) -> set[bytes]:
    """Every spelling of `secret` an output could carry: plain, URL-encoded, JSON- and HTML-escaped."""
    texts = {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        html.escape(secret),
    }
    return {t.encode("utf-8") for t in texts} | {secret.encode("utf-16-le")}


def file_contents(root: Path) -> dict[str, bytes]:
    """Every file under `root` as searchable bytes: Parquet also decoded to JSON lines, every other file as it is."""
    contents = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if path.suffix == ".parquet":
            # Raw bytes too: the file's metadata is not compressed.
            data += pl.read_parquet(path).write_ndjson().encode("utf-8")
        contents[path.relative_to(root).as_posix()] = data
    return contents


def findings(needles: set[bytes], haystacks: dict[str, bytes]) -> list[tuple[str, bytes]]:
    """(where, needle) for every needle found in any haystack."""
    return [(where, needle) for where, data in haystacks.items() for needle in needles if needle in data]
