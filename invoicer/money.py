"""Amounts: parsing, rounding and formatting, exact to the currency's minor unit.

Money is a `Decimal` in code and an integer count of minor units (cents) in the
database; it never passes through a float."""

import re
from functools import lru_cache
from decimal import ROUND_HALF_UP, Decimal, localcontext

from invoicer.errors import InputError

# ISO 4217 active codes and the digits of their minor unit.
_EXCEPTIONS = {
    0: "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF",
    3: "BHD IQD JOD KWD LYD OMR TND",
    4: "CLF UYW",
}
_TWO_DIGITS = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD "
    "BTN BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD "
    "EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR "
    "IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP "
    "MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN "
    "QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL "
    "THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR "
    "ZMW ZWG ZWL"
)
MINOR_DIGITS = {code: 2 for code in _TWO_DIGITS.split()}
MINOR_DIGITS.update({code: d for d, codes in _EXCEPTIONS.items() for code in codes.split()})

# Far beyond any invoice; sums of thousands still fit in SQLite's 64-bit integers (a sum
# that does not is refused as a whole, see store/connection.py).
MAX_MINOR_UNITS = 10**15

_DECIMAL = re.compile(r"([0-9]+)(?:\.([0-9]+))?")


def parse_minors(texts: tuple, currency: str) -> list[int] | None:
    """parse_minor of many amounts at once, when each is written plainly with the
    currency's decimals (1234.50, or 1234 for JPY): one regular expression over all of them
    and int() of each, in C. None when any one is not so written, or is zero or too large:
    then parse_minor of each says which and why (and takes 1234.5, 1234.500, ...)."""
    if None in texts:
        return None
    digits = MINOR_DIGITS[currency]
    text = "\n".join(texts)
    if _plain_amounts(digits).fullmatch(text) is None:
        return None
    minors = list(map(int, (text.replace(".", "") if digits else text).split("\n")))
    # A value holding a line break would make two.
    if len(minors) != len(texts) or min(minors) == 0 or max(minors) > MAX_MINOR_UNITS:
        return None
    return minors


@lru_cache(maxsize=None)
def _plain_amounts(digits: int) -> re.Pattern:
    amount = "[0-9]{1,15}" + (f"\\.[0-9]{{{digits}}}" if digits else "")
    return re.compile(f"{amount}(?:\n{amount})*")


def parse_currency(text: str, field: str = "currency") -> str:
    code = (text or "").strip().upper()
    if code not in MINOR_DIGITS:
        raise InputError(f"{field}: {text!r} is not an ISO 4217 currency code")
    return code


def parse_minor(text, currency: str, field: str = "amount", allow_zero: bool = False) -> int:
    """A positive amount, exact in the currency's minor unit, as integer minor units:
    '1234.5' and '1234.500' are the same USD amount (123450), '12.345' is refused."""
    raw = text.strip() if isinstance(text, str) else ("" if text is None else str(text).strip())
    if not raw:
        raise InputError(f"{field}: missing (a positive decimal amount like 1234.50)")
    # str methods, not a regex: this runs once per imported row.
    whole, dot, fraction = raw.partition(".")
    if not (raw.isascii() and whole.isdigit() and (fraction.isdigit() or not dot)):
        raise InputError(f"{field}: {raw!r} is not a positive decimal amount like 1234.50")
    fraction = fraction.rstrip("0")
    digits = MINOR_DIGITS[currency]
    if len(fraction) > digits:
        raise InputError(f"{field}: {raw} has more decimals than {currency} allows ({digits})")
    if len(whole) > 20:
        raise InputError(f"{field}: {raw} is too large (at most {format_minor(MAX_MINOR_UNITS, currency)})")
    minor = int(whole + fraction.ljust(digits, "0"))
    if minor == 0 and not allow_zero:
        raise InputError(f"{field}: the amount must be greater than zero")
    if minor > MAX_MINOR_UNITS:
        raise InputError(f"{field}: {raw} is too large (at most {format_minor(MAX_MINOR_UNITS, currency)})")
    return minor


def parse_amount(text, currency: str, field: str = "amount") -> Decimal:
    return from_minor(parse_minor(text, currency, field), currency)


def format_amount(amount: Decimal | None, currency: str) -> str | None:
    return None if amount is None else f"{amount:.{MINOR_DIGITS[currency]}f}"


def to_minor(amount: Decimal, currency: str) -> int:
    return int(amount.scaleb(MINOR_DIGITS[currency]))


def from_minor(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-MINOR_DIGITS[currency])


def format_minor(minor: int | None, currency: str) -> str | None:
    """'1500.00' for 150000 USD cents, '1500' for 1500 JPY: the one money format."""
    if minor is None:
        return None
    digits = MINOR_DIGITS[currency]
    return f"{Decimal(minor).scaleb(-digits):.{digits}f}"


def percent_share(value_minor: int, percent: Decimal, currency: str) -> int:
    """P % of a value, rounded half up to the minor unit."""
    with localcontext() as ctx:
        ctx.prec = 60
        return int((Decimal(value_minor) * percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def parse_percent(text, field: str = "percent") -> Decimal:
    raw = str(text).strip() if text is not None else ""
    if not _DECIMAL.fullmatch(raw) or len(raw) > 30:
        raise InputError(f"{field}: {raw!r} is not a percentage like 25 or 12.5")
    value = Decimal(raw)
    if not 0 < value <= 100:
        raise InputError(f"{field}: {raw} must be more than 0 and at most 100")
    return value
