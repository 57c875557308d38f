"""The ``deblurcli`` command's entry point (the console script and ``python -m deblurcli``).

The CLI is imported inside a guard, so that a Ctrl-C that lands while Python is still importing it is the same
one line and exit status 130 as one that lands later (an interrupt in the first milliseconds, while Python itself
starts, is Python's to report). An interrupted run is also sure to end: see :func:`exit_within`.
"""

from __future__ import annotations

import os
import sys
import threading
import time

from .errors import caused_by_interrupt

INTERRUPTED = 130


def run() -> None:
    try:
        from .cli import main
    except BaseException as e:
        if isinstance(e, KeyboardInterrupt) or (isinstance(e, Exception) and caused_by_interrupt(e)):
            sys.stderr.write("deblurcli: interrupted\n")
            raise SystemExit(INTERRUPTED) from None
        raise
    try:
        main(prog_name="deblurcli")
    except SystemExit as e:
        if e.code == INTERRUPTED:
            exit_within(INTERRUPTED)
        raise


def exit_within(code: int, seconds: float = 5.0) -> None:
    """Make sure the process ends with ``code`` within ``seconds``, even if Python's own exit stalls.

    At exit Python joins the worker threads of every thread pool; a Ctrl-C that lands while a pool is starting a
    worker can leave one that nothing wakes, and the exit then waits forever (seen at start-up: the main thread
    blocked in ``threading._shutdown`` on an idle ``concurrent.futures`` worker). A daemon timer ends the
    process with the same status if the normal exit has not finished by then; normally it never fires. Only the
    real program arms it (not ``main`` called in-process, as the tests do).
    """

    def force() -> None:
        time.sleep(seconds)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

    threading.Thread(target=force, name="deblurcli-exit", daemon=True).start()
