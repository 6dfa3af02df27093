"""Progress on stderr while long queries run, only when stderr is a terminal."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Progress:
    """Stage names with DuckDB's own query progress, redrawn on one stderr line."""

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled

    @contextmanager
    def stage(self, name: str, con: Any = None) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        stop = threading.Event()
        started = time.monotonic()
        watcher = threading.Thread(target=self._watch, args=(name, con, stop, started), daemon=True)
        watcher.start()
        try:
            yield
        except BaseException:  # failed or interrupted: clear the line, claim nothing
            stop.set()
            watcher.join(timeout=1.0)  # its last write must come before the clearing
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            raise
        stop.set()
        watcher.join()
        sys.stderr.write(f"\r\x1b[K{name}: done in {time.monotonic() - started:.1f}s\n")
        sys.stderr.flush()

    def _watch(self, name: str, con: Any, stop: threading.Event, started: float) -> None:
        while not stop.wait(0.25):
            pct = _query_percent(con)
            shown = f" {pct:5.1f}%" if pct is not None else ""
            sys.stderr.write(f"\r\x1b[K{name}:{shown} {time.monotonic() - started:.0f}s")
            sys.stderr.flush()


def _query_percent(con: Any) -> float | None:
    try:
        value = con.query_progress()
    except Exception:  # the connection may be busy or closed; progress is best effort
        return None
    if isinstance(value, (int, float)) and 0 <= value <= 100:
        return float(value)
    return None
