"""The bulk imports' shared command body: a progress bar on a terminal, a count at the end."""

import sys

from invoicer import imports, render


def imported(store, path: str, run, json_output: bool) -> None:
    lines, size = imports.open_source(path)
    if size and sys.stderr.isatty() and not json_output:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            count = run(store, _lines(bar, lines, size))
    else:
        count = run(store, lines)
    if json_output:
        render.emit({"imported": count})
    else:
        render.say(f"imported {count} row(s)")


def _lines(bar, lines, size):
    task = bar.add_task("importing", total=size)
    read = 0
    for text in lines:
        read += len(text)
        if read >= 1 << 16:  # advancing per line would cost more than the import
            bar.advance(task, read)
            read = 0
        yield text
