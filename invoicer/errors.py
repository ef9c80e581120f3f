"""The failures a user can meet. Each kind carries its exit code and a short code for
JSON; the CLI's edge turns them into one line on stderr (cli/app.py)."""


class InvoicerError(Exception):
    """Bad input or a rule of the spec refused it: nothing was written."""

    exit_code = 1
    code = "refused"


class InputError(InvoicerError):
    """A value the user typed or a file row holds is malformed."""

    code = "invalid-input"


class NotFound(InvoicerError):
    code = "not-found"


class DatabaseFileError(InvoicerError):
    """The database file cannot be used: not ours, too new, corrupt, unreachable."""

    code = "database"


class Conflict(InvoicerError):
    """A workflow instance is already running, or another process holds the database."""

    exit_code = 3
    code = "conflict"


class NotConfigured(InvoicerError):
    """No active "create invoices" job with a running workflow instance."""

    exit_code = 4
    code = "not-configured"


class Interrupted(InvoicerError):
    """Ctrl-C (SIGINT): the command's transaction was rolled back, unless it had committed."""

    exit_code = 130
    code = "interrupted"
