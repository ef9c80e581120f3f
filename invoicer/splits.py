"""Several customers on one contract (section 10): a contract's billing split between the
customers who fund it, and a line's own split, which takes priority over the contract's.
The rules of setting one live here; the run splits each item by the split in force as
one join (store/runs.py)."""

from decimal import Decimal

from invoicer.book import refuse_closed
from invoicer.errors import InputError, InvoicerError, NotFound
from invoicer.model import Line, SplitPart
from invoicer.store import Store
from invoicer.tax import parse_rate
from invoicer.values import parse_id, parse_text

HUNDRED = Decimal(100)


def parse_parts(given: list[str], rounding: str | None, default_rounding: str, own_line: bool) -> tuple[SplitPart, ...]:
    """`NAME=PERCENT` values, in the order named, with the rounding customer marked: the
    one named by --rounding, else the contract's customer when in the split, else the
    first named."""
    parts: list[tuple[str, Decimal]] = []
    seen: set[str] = set()
    for text in given:
        name, sep, percent = str(text).rpartition("=")
        if not sep:
            raise InputError(f"customer: {text!r} is not NAME=PERCENT (for instance Fabrikam=60)")
        name = parse_text(name, "customer")
        rate = parse_rate(percent, f"customer {name}: percent")
        if rate <= 0:
            raise InputError(f"customer {name}: percent {percent.strip()} is not above 0")
        if name in seen:
            raise InputError(f"customer: {name!r} is named twice (each customer once, with its percent)")
        seen.add(name)
        parts.append((name, rate))
    if len(parts) < 2 and not own_line:
        raise InvoicerError("customer: a contract's split needs two customers or more "
                            "(a line's own split, with --line, may be one at 100)")
    total = sum((rate for _, rate in parts), Decimal(0))
    if total != HUNDRED:
        raise InvoicerError(f"customer: the percents add up to {total:.2f}, not 100")
    if rounding is not None:
        rounding = parse_text(rounding, "rounding")
        if rounding not in seen:
            raise InvoicerError(f"rounding: {rounding!r} is not one of the split's customers "
                                f"({', '.join(name for name, _ in parts)})")
    else:
        rounding = default_rounding if default_rounding in seen else parts[0][0]
    return tuple(SplitPart(name, rate, name == rounding) for name, rate in parts)


def set_split(store: Store, contract: str, given: list[str], rounding: str | None = None,
              line_id=None) -> tuple[list[Line], dict[int | None, tuple[SplitPart, ...]]]:
    """Replace the contract's split (with `line_id`, that line's own) whole. Returns the
    contract as `show` does."""
    line_id = parse_id(line_id, "line") if line_id is not None else None
    with store.writing():
        row, line = _owner(store, contract, line_id)
        parts = parse_parts(given, rounding, row["customer"], own_line=line is not None)
        store.put_split(row["id"], line_id, parts)
        return _shown(store, contract, row["id"])


def remove_split(store: Store, contract: str, line_id=None) -> tuple[bool, list[Line], dict]:
    """Remove the contract's split (the lines' own stay), or with `line_id` the line's own:
    it follows the contract's again. Returns whether there was one, and the contract."""
    line_id = parse_id(line_id, "line") if line_id is not None else None
    with store.writing():
        row, _ = _owner(store, contract, line_id)
        removed = store.remove_split(row["id"], line_id)
        return removed, *_shown(store, contract, row["id"])


def show(store: Store, contract: str) -> tuple[list[Line], dict[int | None, tuple[SplitPart, ...]]]:
    """A contract's lines, and its splits: under None the contract's, under a line's id
    that line's own (only the lines that have one)."""
    with store.reading():
        row, _ = _owner(store, contract, None)
        return _shown(store, contract, row["id"])


def _owner(store: Store, contract: str, line_id: int | None) -> tuple[dict, Line | None]:
    """The contract, and the line of it whose own split is meant (None: the contract's)."""
    row = store.contract(contract)
    if row is None:
        raise NotFound(f"contract: no contract named {contract!r} (see `invoicer contract list`)")
    if line_id is None:
        return row, None
    line = store.line(line_id)
    if line.contract != row["name"]:
        raise InvoicerError(f"line: line {line_id} is of contract {line.contract!r}, not {row['name']!r}")
    refuse_closed(line, "split")
    return row, line


def _shown(store: Store, contract: str, contract_id: int):
    return store.lines(contract), store.splits(contract_id)
