"""Signals that stop DuckDB at once: Python runs its handlers only once DuckDB hands control
back, so a long query (a COPY, a sort, the exact miss-ratio curve) ran on for seconds after
Ctrl-C or SIGTERM. No duckdb import here: `sqlwave --help` stays quick."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import weakref
from typing import Any

# The connections a signal interrupts (sqlwave.engine.connect adds each one it makes).
interruptible: weakref.WeakSet[Any] = weakref.WeakSet()
_received: list[int] = []  # the stopping signals seen, first first


def stopped_by() -> int | None:
    """The first SIGINT or SIGTERM that arrived since interrupt_on_signal, if any."""
    return _received[0] if _received else None


def interrupt_on_signal() -> None:
    """From now on, SIGINT and SIGTERM interrupt every open connection as they arrive; the
    command then stops as it does on Ctrl-C. Python writes each signal's number to a wakeup
    pipe the moment it arrives, and a thread waits on that pipe. Main thread only (the CLI's)."""
    read, write = os.pipe()
    os.set_blocking(write, False)
    signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    stops = {int(signal.SIGINT), int(signal.SIGTERM)}

    def watch() -> None:
        while data := os.read(read, 64):
            _received.extend(n for n in data if n in stops)
            if stops.intersection(data):
                for con in list(interruptible):
                    with contextlib.suppress(Exception):  # closed meanwhile
                        con.interrupt()

    threading.Thread(target=watch, name="sqlwave-signals", daemon=True).start()
