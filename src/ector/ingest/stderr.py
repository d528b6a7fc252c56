"""Hold back what Rust code writes to stderr while connectorx streams a table.

When the connection drops mid-stream, connectorx panics: Rust's panic hook prints the panic (and, with
RUST_BACKTRACE set, a backtrace) straight to file descriptor 2 before Python sees the exception. Ector reports
that failure itself in one line, so while connectorx runs, descriptor 2 points at a temporary file. What lands
there is written back to stderr afterwards, unless the call failed (then only `--debug` shows it, redacted).
"""

from __future__ import annotations

import atexit
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from ector.console import out
from ector.errors import redact

_lock = threading.Lock()
_held: dict[str, tuple[int, IO[bytes]]] = {}  # "fd2": (saved descriptor 2, capture file) while held


@contextmanager
def rust_stderr_held() -> Iterator[None]:
    """Run the block with descriptor 2 captured; replay the capture after success, drop it on failure."""
    with _lock:
        if _held:  # already held by an enclosing block: that one replays
            owner = False
        else:
            owner = True
            sys.stderr.flush()
            capture = tempfile.TemporaryFile()  # noqa: SIM115 (closed by _release, maybe at exit)
            saved = os.dup(2)
            os.dup2(capture.fileno(), 2)
            _held["fd2"] = (saved, capture)
    if not owner:
        yield
        return
    failed = False
    try:
        yield
    except BaseException:
        failed = True
        raise
    finally:
        with _lock:
            text = _release()
        if text and (not failed or out.debug):
            sys.stderr.write(redact(text))
            sys.stderr.flush()


def _release() -> str:
    """Point descriptor 2 back at the real stderr; return what was captured meanwhile."""
    if "fd2" not in _held:
        return ""
    saved, capture = _held.pop("fd2")
    sys.stderr.flush()
    os.dup2(saved, 2)
    os.close(saved)
    capture.seek(0)
    text = capture.read().decode(errors="replace")
    capture.close()
    return text


@atexit.register
def _release_at_exit() -> None:
    # A signal can end the run while a stream is held: what Ector said meanwhile (its own error line) must
    # still reach stderr.
    with _lock:
        text = _release()
    if text:
        sys.stderr.write(redact(text))
        sys.stderr.flush()
