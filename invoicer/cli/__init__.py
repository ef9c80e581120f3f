"""The command line: one module per command group, assembled by app.py."""

import os
import signal
import sys
import threading


def _interrupted_while_starting(signum, frame) -> None:
    """Ctrl-C while Python loads the command's libraries: nothing has run, so nothing was
    written; one line, as for any other error (app.py hands Ctrl-C back once loaded)."""
    message = "interrupted (Ctrl-C) before the command started; nothing was written"
    if "--json" in sys.argv:
        line = '{"error": {"code": "interrupted", "message": "%s"}}' % message
    else:
        line = f"invoicer: error: {message}"
    os.write(2, (line + "\n").encode())
    os._exit(130)


if threading.current_thread() is threading.main_thread() and \
        signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    signal.signal(signal.SIGINT, _interrupted_while_starting)
