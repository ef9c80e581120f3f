"""The bulk imports' shared command body: a progress bar on a terminal, the counts at the end."""

import sys

from invoicer import imports, render


def imported(store, path: str, run, json_output: bool, **options) -> None:
    source = imports.open_source(path)
    if run is imports.import_transactions:
        options["content"] = source.sha256  # it remembers what it read
    lines = source.lines
    if source.size and sys.stderr.isatty() and not json_output:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            counts = run(store, _lines(bar, lines, source.size), **options)
    else:
        counts = run(store, lines, **options)
    if json_output:
        render.emit({"imported": counts.imported, "unchanged": counts.unchanged})
    else:
        render.say(f"imported {counts.imported} row(s), {counts.unchanged} unchanged (already in the book)")


def _lines(bar, lines, size):
    task = bar.add_task("importing", total=size)
    read = 0
    for text in lines:
        read += len(text)
        if read >= 1 << 16:  # advancing per line would cost more than the import
            bar.advance(task, read)
            read = 0
        yield text
