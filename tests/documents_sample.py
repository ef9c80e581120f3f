"""Documents built by hand, for the tests of the documents room: a Document as the core
would feed it, with its tax groups worked out as EN 16931 wants them (BR-CO-17)."""
from datetime import date
from decimal import ROUND_HALF_UP, Decimal as D

from invoicer.documents import CREDIT_NOTE, INVOICE, Document, DocumentLine, Item, Party, TaxGroup, exemption_reasons

SELLER = Party(name="Contoso Consulting GmbH", country="DE", street="Hauptstraße 1", city="Berlin",
               postcode="10115", vat_id="DE123456789", legal_id="HRB 12345", email="billing@contoso.example",
               electronic_address="9930:DE123456789", iban="DE89370400440532013000", bic="COBADEFFXXX")
CUSTOMER = Party(name="Fabrikam Ltd", country="FR", street="1 rue de la Paix", city="Paris", postcode="75002",
                 vat_id="FR12345678901", legal_id="123 456 789", email="ap@fabrikam.example",
                 electronic_address="0009:12345678900012", reference="PO-4711")


def line(number, name, amount, category="S", rate="19", reason=None, items=None):
    """A document line; a category of rate 0 takes rate 0, O none."""
    amount = D(amount)
    rate = None if category == "O" else D(rate) if category == "S" else D(0)
    items = items or (Item(date(2026, 10, 5), f"time: {name}", amount),)
    return DocumentLine(number, name, amount, category, rate, reason, tuple(items))


def sample(credit=False, lines=None, currency="EUR", digits=2, **changes):
    lines = lines or (
        DocumentLine(1, "Design", D("2100.00"), "S", D("19"), None,
                     (Item(date(2026, 10, 5), "time 8 h: workshop", D("1200.00")),
                      Item(date(2026, 10, 20), "time 6 h", D("900.00")))),
        DocumentLine(2, "Travel", D("310.45"), "E", D("0"), "Exempt under §4 UStG",
                     (Item(date(2026, 10, 7), "expense: train", D("310.45")),)),
    )
    groups = {}
    for entry in lines:
        groups.setdefault((entry.tax_category, entry.tax_rate), D(0))
        groups[(entry.tax_category, entry.tax_rate)] += entry.amount
    unit = D(1).scaleb(-digits)
    tax = tuple(
        TaxGroup(category, rate, taxable,
                 (taxable * (rate or 0) / 100).quantize(unit, rounding=ROUND_HALF_UP),
                 exemption_reasons(lines, category, rate))
        for (category, rate), taxable in sorted(groups.items(), key=lambda g: (g[0][0], g[0][1] or 0))
    )
    total = sum(entry.amount for entry in lines)
    tax_total = sum(group.amount for group in tax)
    base = dict(number="CRN-000001" if credit else "INV-000004", type_code=CREDIT_NOTE if credit else INVOICE,
                status="confirmed", contract="C-100", currency=currency, digits=digits,
                run_date=date(2026, 11, 1), issue_date=date(2026, 11, 2), due_date=date(2026, 11, 16),
                payment_terms_days=14, seller=SELLER, customer=CUSTOMER, lines=tuple(lines), tax=tax,
                total=total, tax_total=tax_total, total_with_tax=total + tax_total,
                credits="INV-000004" if credit else None, credits_issue_date=date(2026, 11, 2) if credit else None,
                reason="Hours billed twice" if credit else None)
    base.update(changes)
    return Document(**base)
