"""Signals that stop DuckDB at once: Python runs its handlers only once DuckDB hands control
back, so a long query (a COPY, a sort, the exact miss-ratio curve) ran on for seconds after
Ctrl-C or SIGTERM. No duckdb import here: `sqlwave --help` stays quick."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import weakref
from collections.abc import Iterator
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


@contextlib.contextmanager
def held() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block is done, then act: one between two renames left a
    new sidecar beside the old WaveSpec, one during the cleanup a temp file, one inside DuckDB's
    start-up aborted the process. Python handlers that only note the signal (masking would not
    do: DuckDB's threads would take the signal for the process). Main thread only, where Python
    sets handlers; a signal ignored, or handled from C (Python cannot put that back), is left."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    previous = {s: h for s, h in previous.items() if h is not None and h != signal.SIG_IGN}
    for s in previous:
        signal.signal(s, lambda number, frame: caught.append(number))
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for number in dict.fromkeys(caught):
            handler = previous[signal.Signals(number)]
            if callable(handler):
                handler(number, None)  # Python's Ctrl-C (KeyboardInterrupt), the CLI's SIGTERM
            else:  # SIG_DFL
                os.kill(os.getpid(), number)
