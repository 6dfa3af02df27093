"""The `sqlwave` console script. It takes Ctrl-C and SIGTERM from its first line: during the
imports before the command line is read (up to 0.1 s), Python would print a KeyboardInterrupt
traceback for one and die without a word for the other."""

from __future__ import annotations

import os
import signal
import sys


def _stopped_early(signum: int, frame: object) -> None:
    # Nothing has been written or started yet: there is nothing to clean up.
    sys.stderr.write("Error: interrupted\n" if signum == signal.SIGINT else "Error: terminated\n")
    sys.stderr.flush()
    os._exit(128 + signum)


def main() -> None:
    for number in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(number) != signal.SIG_IGN:  # ignored by the parent (`cmd &`): stays
            signal.signal(number, _stopped_early)
    from sqlwave.cli import main as run

    run()  # sets the handlers the commands use once they are registered
