"""invoicer: the "create invoices" batch job of Project Operations, over one SQLite file."""

__version__ = "0.1.0"
