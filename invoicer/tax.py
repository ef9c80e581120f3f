"""Tax: the EN 16931 categories (UNTDID 5305) with their rules, and an invoice's breakdown
by category and rate, rounded once per group (BR-CO-17). Pure: no database, no terminal.

A rate is a percent with at most two decimals, kept as a Decimal with two (19 -> 19.00)
and stored as integer hundredths of a percent (1900), as money is stored in minor units."""

import re
from collections.abc import Iterable
from decimal import Decimal
from typing import NamedTuple

from invoicer.errors import InputError
from invoicer.model import InvoiceLine, TaxGroup
from invoicer.money import MINOR_DIGITS
from invoicer.values import parse_text

STANDARD, ZERO, EXEMPT, OUTSIDE = "S", "Z", "E", "O"
CATEGORIES = ("S", "Z", "E", "AE", "K", "G", "O")
# The categories of rate 0; O (outside the scope of VAT) has no rate at all.
ZERO_RATED = ("Z", "E", "AE", "K", "G")
# What EN 16931 wants said for a category without tax when the line gives no reason.
DEFAULT_REASONS = {"AE": "Reverse charge", "K": "Intra-community supply", "G": "Export outside the EU",
                   "O": "Not subject to VAT"}
_NAMES = {"S": "standard rate", "Z": "zero rated", "E": "exempt", "AE": "reverse charge",
          "K": "intra-community supply", "G": "export outside the EU", "O": "outside the scope of VAT"}
_RATE = re.compile(r"([0-9]{1,3})(?:\.([0-9]+))?")
_HUNDREDTH = Decimal("0.01")


class Tax(NamedTuple):
    """The tax of a line or of the seller; all None: no tax."""

    category: str | None = None
    rate: Decimal | None = None
    reason: str | None = None


NO_TAX = Tax()


def parse_category(text, field: str = "tax_category") -> str:
    raw = str(text).strip().upper() if text is not None else ""
    if raw not in CATEGORIES:
        shown = str(text).strip() if text is not None else ""
        if not shown:
            raise InputError(f"{field}: missing (one of {', '.join(CATEGORIES)})")
        raise InputError(f"{field}: {shown!r} is not a tax category (one of {', '.join(CATEGORIES)}: "
                         + ", ".join(f"{c} {n}" for c, n in _NAMES.items()) + ")")
    return raw


def parse_rate(text, field: str = "tax_rate") -> Decimal:
    """A percent from 0 to 100 with at most two decimals, as a Decimal with two."""
    raw = str(text).strip() if text is not None else ""
    found = _RATE.fullmatch(raw) if raw.isascii() else None
    if found is None:
        if not raw:
            raise InputError(f"{field}: missing (a percent like 19 or 5.5)")
        raise InputError(f"{field}: {raw[:30]!r} is not a percent like 19 or 5.5")
    if len((found.group(2) or "").rstrip("0")) > 2:
        raise InputError(f"{field}: {raw} has more than two decimals")
    rate = Decimal(raw).quantize(_HUNDREDTH)
    if rate > 100:
        raise InputError(f"{field}: {raw} is above 100")
    return rate


def resolve(category=None, rate=None, reason=None, stored: Tax = NO_TAX, seller: bool = False) -> Tax:
    """The tax after `set` gives some of category, rate and exemption reason (text, None
    where not given) over what is stored, checked together. A category given alone takes
    rate 0 if it is a category of rate 0, no rate if O, and the stored rate for S; a rate
    or a reason given alone is checked against the stored category."""
    if category is None and rate is None and reason is None:
        return stored
    new_category = parse_category(category) if category is not None else None
    code = new_category or stored.category
    if code is None:
        field = "tax_rate" if rate is not None else "tax_exemption_reason"
        raise InputError(f"{field}: needs a tax category (--tax-category, one of {', '.join(CATEGORIES)})")
    if seller and code == EXEMPT:
        raise InputError("tax_category: the seller's default cannot be E (exempt): an exemption needs its "
                         "reason, given on the line (contract set-line LINE_ID --tax-category E "
                         "--tax-exemption-reason TEXT)")
    value = parse_rate(rate) if rate is not None else None
    if code == OUTSIDE:
        if value is not None:
            raise InputError("tax_rate: category O (outside the scope of VAT) takes no rate")
    elif code in ZERO_RATED:
        if value is None:
            value = Decimal("0.00") if new_category is not None else stored.rate
        if value != 0:
            raise InputError(f"tax_rate: category {code} ({_NAMES[code]}) has rate 0, not {value}")
    else:
        if value is None:
            value = stored.rate
        if value is None or value == 0:
            field = "tax_rate" if rate is not None else "tax_category"
            raise InputError(f"{field}: category S (standard rate) needs a rate above 0 (--tax-rate)")
    text = None
    if reason is not None:
        if code in (STANDARD, ZERO):
            raise InputError(f"tax_exemption_reason: not for category {code} ({_NAMES[code]}): only a line "
                             "without tax (E, AE, K, G or O) gives a reason")
        text = parse_text(reason, "tax_exemption_reason")
    elif code == stored.category:
        text = stored.reason
    if text is None:
        text = DEFAULT_REASONS.get(code)
    if code == EXEMPT and text is None:
        raise InputError("tax_exemption_reason: category E (exempt) needs an exemption reason "
                         "(--tax-exemption-reason TEXT)")
    return Tax(code, value, text)


def seller_reason(category: str | None) -> str | None:
    """The exemption reason of a line that takes the seller's category (never E)."""
    return DEFAULT_REASONS.get(category) if category else None


def rate_to_store(rate: Decimal | None) -> int | None:
    return None if rate is None else int(rate.scaleb(2))


def rate_from_store(hundredths: int | None) -> Decimal | None:
    return None if hundredths is None else Decimal(hundredths).scaleb(-2).quantize(_HUNDREDTH)


def format_rate(rate: Decimal | None) -> str | None:
    return None if rate is None else f"{rate:.2f}"


def tax_amount_minor(taxable_minor: int, rate: Decimal | None) -> int:
    """taxable x rate / 100, rounded half away from zero to the minor unit, in integers
    (exact): so a full credit note's tax is the exact negative of its invoice's."""
    if rate is None:
        return 0
    product = abs(taxable_minor) * int(rate.scaleb(2))
    whole, rest = divmod(product, 10_000)
    if 2 * rest >= 10_000:
        whole += 1
    return whole if taxable_minor >= 0 else -whole


def breakdown(lines: Iterable[InvoiceLine], currency: str) -> tuple[TaxGroup, ...]:
    """The invoice's tax by (category, rate): each group's taxable amount is the sum of its
    lines, its tax rounded once for the group (BR-CO-17), ordered by category code, then
    rate. Lines without tax are in no group."""
    digits = MINOR_DIGITS[currency]
    taxable: dict[tuple[str, Decimal | None], int] = {}
    for line in lines:
        if line.tax_category is not None:
            key = (line.tax_category, line.tax_rate)
            taxable[key] = taxable.get(key, 0) + int(line.amount.scaleb(digits))
    return tuple(
        TaxGroup(category, rate, Decimal(minor).scaleb(-digits),
                 Decimal(tax_amount_minor(minor, rate)).scaleb(-digits))
        for (category, rate), minor in sorted(taxable.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0))
    )
