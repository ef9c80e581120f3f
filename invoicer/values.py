"""Parsing of the plain values users type or files hold: dates, ids, flags, names.
Each failure names its field and is exit 1."""

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from invoicer.errors import InputError

MAX_TEXT = 200
# Control characters, and lone surrogates (text that was not valid UTF-8): SQLite would
# store bytes no reader can decode.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def refuse_invalid_unicode(text: str, field: str) -> None:
    """The one rule for text that is not valid Unicode, wherever it comes from: a byte that
    is not UTF-8 (which Python hands over as a lone surrogate) or a lone surrogate itself.
    SQLite cannot take it, and no reader could decode it."""
    if not text.isascii() and _SURROGATE.search(text):  # isascii: the common case, at once
        raise InputError(f"{field}: not valid Unicode text (a byte that is not UTF-8, or a lone surrogate)")


def typed_text(text: str, field: str, option: bool = True, empty_is_none: bool = False) -> str:
    """The rule for every text typed on the command line, an option's value or an argument
    (cli/common.py applies it to all of them): valid Unicode without a NUL character, and
    not empty. An empty value (a script's unset variable, say) is a bad value, never taken
    as "not given"."""
    if not text.strip() and not empty_is_none:
        raise InputError(f"{field}: must not be empty" + (" (leave the option out to leave it unset)" if option else ""))
    refuse_invalid_unicode(text, field)
    if "\x00" in text:  # no shell passes one; a script calling invoicer in process can
        raise InputError(f"{field}: holds a NUL character (\\x00), which no command line can carry")
    return text


def parse_date(text, field: str = "date") -> date:
    return date.fromisoformat(iso_date(text, field))


@lru_cache(maxsize=1024)  # imports check a million rows that share a few hundred dates
def iso_date(text, field: str = "date") -> str:
    """A date's canonical text, YYYY-MM-DD, checked: what the store keeps."""
    raw = text.strip() if isinstance(text, str) else ("" if text is None else str(text).strip())
    try:
        # Only YYYY-MM-DD: fromisoformat alone would also take 20261201 and 2026-W49-2.
        if len(raw) != 10 or raw[4] != "-" or raw[7] != "-" or not raw.isascii():
            raise ValueError
        date.fromisoformat(raw)
    except ValueError:
        if not raw:
            raise InputError(f"{field}: missing (a date in the form YYYY-MM-DD)") from None
        raise InputError(f"{field}: {raw!r} is not a date in the form YYYY-MM-DD") from None

    return raw


def parse_optional_date(text, field: str) -> date | None:
    return None if text is None else parse_date(text, field)


def parse_id(text, field: str = "id") -> int:
    raw = str(text).strip() if text is not None else ""
    shown = raw if len(raw) <= 30 else raw[:27] + "..."
    # The length first: int() of thousands of digits is slow, and refused past 4300.
    if not raw.isascii() or not raw.isdigit() or not raw.lstrip("0"):
        raise InputError(f"{field}: {shown!r} is not an id (a positive whole number)")
    if len(raw.lstrip("0")) > 18:
        raise InputError(f"{field}: {shown} is too large to be an id")
    return int(raw)


def parse_bool(text, field: str) -> bool:
    raw = str(text).strip().lower() if text is not None else ""
    if raw in ("true", "1", "yes", "y"):
        return True
    if raw in ("false", "0", "no", "n", ""):
        return False
    raise InputError(f"{field}: {text!r} is not one of true/false, 1/0, yes/no")


def parse_text(text, field: str, required: bool = True) -> str | None:
    value = (text or "").strip() if isinstance(text, str) or text is None else str(text).strip()
    if not value:
        if required:
            raise InputError(f"{field}: must not be empty")
        return None
    if len(value) > MAX_TEXT:
        raise InputError(f"{field}: longer than {MAX_TEXT} characters")
    if not value.isprintable() and (found := _CONTROL.search(value)):  # isprintable: the common case, in C
        refuse_invalid_unicode(found.group(), field)
        raise InputError(f"{field}: must not contain line breaks or control characters")
    return value


MAX_REF = 200
# Unicode category Cc, and lone surrogates (not valid Unicode: no UTF-8 for SQLite to store).
_NOT_IN_REF = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def parse_ref(text, field: str = "ref") -> str:
    """A transaction's id in the system it comes from, compared exactly: never stripped, so
    white space at either end is refused rather than dropped."""
    ref = text if isinstance(text, str) else str(text)
    # The common case at once: printable text has no white space but the ASCII space.
    if 0 < len(ref) <= MAX_REF and ref.isprintable() and ref[0] != " " and ref[-1] != " ":
        return ref
    if not ref:
        raise InputError(f"{field}: must not be empty (1 to {MAX_REF} characters)")
    if len(ref) > MAX_REF:
        raise InputError(f"{field}: longer than {MAX_REF} characters")
    if not ref.isprintable() and (found := _NOT_IN_REF.search(ref)):  # isprintable: the common case, in C
        if "\ud800" <= found.group() <= "\udfff":
            raise InputError(f"{field}: not valid Unicode text (a lone surrogate)")
        raise InputError(f"{field}: must not contain control characters (U+{ord(found.group()):04X})")
    if ref[0].isspace() or ref[-1].isspace():
        raise InputError(f"{field}: {ref!r} has white space at an end; a ref is compared exactly")
    return ref


def parse_quantity(text, field: str = "quantity") -> Decimal | None:
    if text is None:
        return None
    raw = str(text).strip()
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or value < 0 or len(raw) > 30 or "e" in raw.lower():
        raise InputError(f"{field}: {raw!r} is not a quantity like 7.5")
    return value


def choice(text, options: tuple[str, ...], field: str) -> str:
    """One of `options`, typed in any case (`Daily`, `processrunner`), as the spec spells it."""
    if text in options:
        return text
    raw = str(text).strip() if text is not None else ""
    if not raw:
        raise InputError(f"{field}: missing (one of {', '.join(options)})")
    found = _folded(options).get(raw.casefold())
    if found is None:
        raise InputError(f"{field}: {text!r} is not one of {', '.join(options)}")
    return found


@lru_cache(maxsize=64)
def _folded(options: tuple[str, ...]) -> dict[str, str]:
    folded = {option.casefold(): option for option in options}
    # Two options that differ only in case would make a typed value ambiguous.
    assert len(folded) == len(options), options
    return folded
