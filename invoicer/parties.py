"""The parties of an invoice: the seller (the one company that issues the book's
invoices) and the records of the customers that contracts name, with the checks of
their values (ISO 3166-1 countries, VAT ids, ISO 13616 IBANs, ISO 9362 BICs, Peppol
electronic addresses). Each public function is one command's work in one transaction."""

import re
from functools import cache

from invoicer import tax
from invoicer.errors import InputError, NotFound
from invoicer.model import Customer, Seller
from invoicer.store import Store
from invoicer.values import parse_text

MAX_TERMS_DAYS = 365

# The Peppol Electronic Address Scheme (EAS) codes of four digits, as the EN 16931
# validation artefacts of CEN/TC 434 check them (rule BR-CL-25, the CEF EAS code list).
EAS_CODES = frozenset((
    "0002 0007 0009 0037 0060 0088 0096 0097 0106 0130 0135 0142 0147 0151 0154 0158 0170 0177 "
    "0183 0184 0188 0190 0191 0192 0193 0194 0195 0196 0198 0199 0200 0201 0202 0203 0204 0205 "
    "0208 0209 0210 0211 0212 0213 0215 0216 0217 0218 0219 0220 0221 0225 0230 0235 0240 0244 "
    "0242 0245 0246 0248 9910 9913 9914 9915 9918 9919 9920 9922 9923 9924 9925 9926 9927 9928 "
    "9929 9930 9931 9932 9933 9934 9935 9936 9937 9938 9939 9940 9941 9942 9943 9944 9945 9946 "
    "9947 9948 9949 9950 9951 9952 9953 9957 9959").split())

# VAT id prefixes that are not the country's ISO 3166-1 code: Greece's EL, and XI for
# Northern Ireland; GR is no VAT prefix.
_VAT_PREFIXES = {"EL": "GR", "XI": "GB"}
_VAT_REST = re.compile(r"[A-Z0-9][A-Z0-9+*. -]{1,28}")
_IBAN = re.compile(r"([A-Z]{2})([0-9]{2})([A-Z0-9]{11,30})")
_BIC = re.compile(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")


@cache
def _countries() -> frozenset[str]:
    # pycountry (the Debian iso-codes data) costs 70 ms to import: only the commands that
    # check a country pay it.
    import pycountry

    return frozenset(country.alpha_2 for country in pycountry.countries)


def parse_country(text, field: str = "country") -> str:
    """An ISO 3166-1 alpha-2 code, in any case; upper case."""
    raw = parse_text(text, field)
    code = raw.upper()
    if len(code) != 2 or code not in _countries():
        raise InputError(f"{field}: {raw[:30]!r} is not an ISO 3166-1 alpha-2 country code (like DE, FR, US)")
    return code


def parse_vat_id(text, field: str = "vat_id") -> str:
    """A VAT identifier: a two-letter country prefix (EL for Greece), then its number."""
    raw = parse_text(text, field)
    value = raw.upper()
    prefix, rest = value[:2], value[2:]
    known = _VAT_PREFIXES.get(prefix, prefix)
    if not (prefix.isalpha() and prefix.isascii()) or prefix == "GR" or known not in _countries():
        hint = " (Greece's prefix is EL)" if prefix == "GR" else ""
        raise InputError(f"{field}: {raw[:30]!r} does not begin with a two-letter country prefix, "
                         f"like DE123456789{hint}")
    if not _VAT_REST.fullmatch(rest) or not any(c.isdigit() for c in rest):
        raise InputError(f"{field}: {raw[:30]!r} has no VAT number after its prefix {prefix}")
    return value


def parse_email(text, field: str = "email") -> str:
    raw = parse_text(text, field)
    local, at, domain = raw.partition("@")
    if not at or not local or not domain or "@" in domain or any(c.isspace() for c in raw):
        raise InputError(f"{field}: {raw[:60]!r} is not an email address (one @, no space)")
    return raw


def parse_electronic_address(text, field: str = "electronic_address") -> str:
    """SCHEME:ID, SCHEME a four-digit code of the Peppol EAS list (0088:5790000435968)."""
    raw = parse_text(text, field)
    scheme, colon, identifier = raw.partition(":")
    if not colon or not identifier.strip() or any(c.isspace() for c in identifier):
        raise InputError(f"{field}: {raw[:60]!r} is not SCHEME:ID, like 0088:5790000435968 or 9930:DE123456789")
    if not (len(scheme) == 4 and scheme.isdigit() and scheme.isascii()) or scheme not in EAS_CODES:
        raise InputError(f"{field}: {scheme[:10]!r} is not a scheme of the Peppol EAS list "
                         "(four digits, like 0088 for a GLN or 9930 for a German VAT id)")
    return raw


def parse_iban(text, field: str = "iban") -> str:
    """An ISO 13616 IBAN with its check digits verified (mod 97); without spaces, upper case."""
    raw = parse_text(text, field)
    value = "".join(raw.split()).upper()
    found = _IBAN.fullmatch(value) if value.isascii() else None
    if found is None or len(value) > 34:
        raise InputError(f"{field}: {raw[:40]!r} is not an IBAN (a country code, two check digits, "
                         "then up to 30 letters and digits)")
    country, check, account = found.groups()
    digits = "".join(str(int(c, 36)) for c in account + country + check)
    if int(digits) % 97 != 1:
        raise InputError(f"{field}: {raw[:40]!r} fails its ISO 13616 check digits (mod 97): a typo?")
    return value


def parse_bic(text, field: str = "bic") -> str:
    """An ISO 9362 BIC: 8 or 11 characters."""
    raw = parse_text(text, field)
    value = raw.upper()
    if not (value.isascii() and _BIC.fullmatch(value)):
        raise InputError(f"{field}: {raw[:30]!r} is not an ISO 9362 BIC (8 or 11 letters and digits, "
                         "like DEUTDEFF or DEUTDEFF500)")
    return value


def parse_terms(text, field: str = "payment_terms_days") -> int:
    raw = str(text).strip() if text is not None else ""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 3 or int(raw) > MAX_TERMS_DAYS:
        raise InputError(f"{field}: {raw[:30]!r} is not a number of days from 0 to {MAX_TERMS_DAYS}")
    return int(raw)


def _text(field: str):
    return lambda text: parse_text(text, field)


# How each value of a party is read from what the user gave.
_PARSERS = {
    "name": _text("name"), "country": parse_country, "street": _text("street"), "city": _text("city"),
    "postcode": _text("postcode"), "vat_id": parse_vat_id, "tax_registration": _text("tax_registration"),
    "legal_id": _text("legal_id"), "email": parse_email, "electronic_address": parse_electronic_address,
    "iban": parse_iban, "bic": parse_bic, "payment_terms_days": parse_terms, "reference": _text("reference"),
}


def _changes(given: dict, fields: tuple[str, ...]) -> dict:
    return {field: _PARSERS[field](value) for field, value in given.items()
            if value is not None and field in fields}


def _options(fields) -> str:
    return ", ".join("--" + f.replace("_", "-") for f in fields)


SELLER_OPTIONS = tuple(f for f in Seller._fields if f not in ("tax_category", "tax_rate"))
CUSTOMER_OPTIONS = tuple(f for f in Customer._fields if f != "name")


def set_seller(store: Store, tax_category=None, tax_rate=None, **given) -> Seller:
    """`seller set`: changes only the options given, each checked."""
    unknown = set(given) - set(SELLER_OPTIONS)
    if unknown:
        raise TypeError(f"not seller options: {sorted(unknown)}")
    if all(v is None for v in given.values()) and tax_category is None and tax_rate is None:
        raise InputError(f"give what to set: {_options(Seller._fields)}")
    changes = _changes(given, SELLER_OPTIONS)
    with store.writing():
        seller = store.seller()
        stored = tax.Tax(seller.tax_category, seller.tax_rate, tax.seller_reason(seller.tax_category))
        found = tax.resolve(tax_category, tax_rate, None, stored, seller=True)
        changes.update(tax_category=found.category, tax_rate=found.rate)
        seller = seller._replace(**changes)
        store.put_seller(seller)
        return store.seller()


def show_seller(store: Store) -> Seller:
    with store.reading():
        return store.seller()


def set_customer(store: Store, name, **given) -> Customer:
    """`customer set NAME`: the first creates the record; later ones change only the options given."""
    unknown = set(given) - set(CUSTOMER_OPTIONS)
    if unknown:
        raise TypeError(f"not customer options: {sorted(unknown)}")
    name = parse_text(name, "name")
    changes = _changes(given, CUSTOMER_OPTIONS)
    with store.writing():
        customer = store.customer(name) or Customer(name=name)
        customer = customer._replace(**changes)
        store.put_customer(customer)
        return store.customer(name)


def show_customer(store: Store, name) -> Customer:
    name = parse_text(name, "name")
    with store.reading():
        found = store.customer(name)
        if found is None:
            raise NotFound(f"name: the customer {name!r} has no record (create it with `invoicer customer set "
                           f"NAME ...`; see `invoicer customer list`)")
        return found


def list_customers(store: Store) -> list[Customer]:
    with store.reading():
        return store.customers()



def invoice_parties(store: Store, number: str) -> tuple[Seller, Customer | None]:
    """An invoice's seller and customer: as they were when it was confirmed (a draft: as
    they are now). A later `seller set` or `customer set` does not change what an issued
    invoice says."""
    with store.reading():
        return store.invoice_parties(number.strip())
