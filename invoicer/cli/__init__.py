"""The command line: one module per command group, assembled by app.py."""
