"""Property tests of several customers on one contract (SPEC section 10), through the CLI,
over random books with random billing splits, against a small model of the spec's rules
written from the spec (not from the code):

1. every item a run bills is cut into shares exactly as section 10 says: in the order
   named, each customer but the rounding one gets amount x percent / 100 rounded half up,
   no more than what the customers named before it left; the rounding customer the rest;
   so the shares add up to the item, and a share of zero is never billed;
2. the customers' invoices of a run add up, line by line and item by item, to what the
   same book bills with no split (the not-to-exceed limit applies to whole items);
3. a dry run shows exactly what the real run then makes (numbers aside);
4. over random sequences of run / cancel one customer's draft / confirm / credit in full
   or one item / confirm the credit note / run undo / a new split / run again: nothing is
   billed twice to one customer at once, an item is never billed beyond itself net of
   confirmed credit notes, a share billable again is billed again to its customer alone
   at the same amount, an item whose every share is billable again is split anew, and
   once every draft is cancelled or undone and the book is billed again, each item's
   shares add up to the item again; `transaction list` names exactly the invoices not
   cancelled that hold a share of each transaction."""

import os
import tempfile
from collections import defaultdict
from decimal import Decimal

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from tests.conftest import dump, examples, query

JOB = "Project operations create invoices"
TMP = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
DECIMALS = {"USD": 2, "JPY": 0, "KWD": 3}
MAX = 10**15  # the largest amount, in minor units
# Customers' names, compared as text code point by code point: upper case before lower
# case before accented letters.
CUSTOMERS = ["Fabrikam", "Contoso", "Northwind", "adatum", "\u00c9mile"]
CONTRACTS = [("C-100", "Fabrikam"), ("B-7", "Contoso")]  # name, its lines' customer
RUN_DATES = ["2026-02-01", "2026-03-01", "2026-04-01", "2026-05-01", "2026-06-01", "2026-07-01"]
FINAL = "2026-11-01"  # after every run date above and every item's date, before "now"
SLOW = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]


def seen(what: str) -> None:
    """Count what an example reached (pytest --hypothesis-show-statistics); outside a
    property (the fixed example below), nothing."""
    try:
        event(what)
    except InvalidArgument:
        pass


def minor(text: str, currency: str = "USD") -> int:
    places = DECIMALS[currency]
    assert isinstance(text, str), text
    if places:
        _, _, fraction = text.lstrip("-").partition(".")
        assert len(fraction) == places, f"not a {currency} amount string: {text!r}"
    return int(Decimal(text).scaleb(places))


def money(amount: int, currency: str = "USD") -> str:
    places = DECIMALS[currency]
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if places == 0:
        return f"{sign}{amount}"
    return f"{sign}{amount // 10 ** places}.{amount % 10 ** places:0{places}d}"


def percent_text(hundredths: int, plain: bool) -> str:
    """33.33, 0.01; with `plain`, 50 rather than 50.00 and 33.3 rather than 33.30."""
    text = f"{hundredths // 100}.{hundredths % 100:02d}"
    return text.rstrip("0").rstrip(".") if plain else text


# The spec's rule (section 10), in integer minor units and hundredths of a percent

def spec_shares(amount: int, parts: list[tuple[str, int, bool]]) -> dict[str, int]:
    """Each customer's share of an item of `amount`, zero shares left out. `parts`:
    (customer, percent in hundredths, rounding) in the order named."""
    shares, left = {}, amount
    for customer, hundredths, rounding in parts:
        if rounding:
            continue
        raw = (amount * hundredths + 5000) // 10000  # half up: amounts are positive
        shares[customer] = min(raw, left)
        left -= shares[customer]
    shares[next(c for c, _, r in parts if r)] = left
    return {c: s for c, s in shares.items() if s > 0}


def with_rounding(names: list[str], hundredths: list[int], rounding: str | None, contract_customer: str):
    """The split as the spec marks it: --rounding, else the contract's customer when in
    the split, else the first named."""
    if rounding is None:
        rounding = contract_customer if contract_customer in names else names[0]
    return [(n, p, n == rounding) for n, p in zip(names, hundredths)]


PRESETS = [[3333, 3333, 3334], [3334, 3333, 3333], [1, 9999], [9999, 1], [1, 1, 9998], [2500] * 4,
           [500, 500, 500, 8499, 1], [5000, 5000], [4999, 5001], [1, 4999, 5000], [7000, 2999, 1],
           [1, 1, 1, 1, 9996], [2000] * 5, [3333, 3334, 3333], [6667, 3333], [1111, 2222, 3333, 3334]]


@st.composite
def splits(draw, minimum: int = 2):
    """(names, hundredths, --rounding or None, plain percent texts) of a random split."""
    if draw(st.booleans()):
        hundredths = list(draw(st.permutations(draw(st.sampled_from([p for p in PRESETS if len(p) >= minimum])))))
    else:
        n = draw(st.integers(minimum, 5))
        cuts = sorted(draw(st.sets(st.integers(1, 9999), min_size=n - 1, max_size=n - 1)))
        hundredths = [b - a for a, b in zip([0, *cuts], [*cuts, 10000])]
    names = draw(st.permutations(CUSTOMERS))[: len(hundredths)]
    rounding = draw(st.one_of(st.none(), st.sampled_from(names)))
    return names, hundredths, rounding, draw(st.booleans())


def split_args(split) -> list[str]:
    names, hundredths, rounding, plain = split
    args = []
    for name, p in zip(names, hundredths):
        args += ["--customer", f"{name}={percent_text(p, plain)}"]
    return args + (["--rounding", rounding] if rounding is not None else [])


# Amounts in minor units: one unit, a few, the largest, and anything.
amounts = st.one_of(
    st.sampled_from([1, 1, 2, 3, 5, 10, 49, 50, 51, 99, 100, 101, 333, 12345, MAX, MAX - 1, 999_999_999_999_999]),
    st.integers(1, 10**7), st.integers(1, MAX))
small_amounts = st.one_of(st.sampled_from([1, 2, 3, 5, 10, 99, 100, 101, 333, 10_000, 33_333]),
                          st.integers(1, 200_000))
MILESTONE_DATES = ["2026-01-15", "2026-02-01", "2026-03-10", "2026-04-20"]


def day(offset: int) -> str:
    """A date in 2026 from a day offset (0: 2026-01-01), 28-day months for simplicity."""
    return f"2026-{1 + offset // 28:02d}-{1 + offset % 28:02d}"


# Properties 1-3: a random book, random splits that may change between runs

@st.composite
def books(draw):
    contracts = []
    for name, customer in CONTRACTS[: draw(st.integers(1, 2))]:
        currency = draw(st.sampled_from(["USD", "USD", "JPY", "KWD"]))
        lines = []
        for index in range(draw(st.integers(1, 3))):
            if draw(st.integers(0, 2)) == 0:
                milestones, total = [], 0
                for k in range(draw(st.integers(1, 3))):
                    amount = draw(amounts)
                    if total + amount <= MAX:
                        total += amount
                        milestones.append((f"M{k}", draw(st.sampled_from(MILESTONE_DATES)), amount,
                                           draw(st.integers(0, 4)) > 0))
                value = min(MAX, total + draw(st.sampled_from([0, 0, 1, 5_000])))
                lines.append({"name": f"F{index}", "method": "fixed-price", "value": value, "milestones": milestones})
            else:
                cap = draw(st.one_of(st.none(), st.none(), amounts))
                lines.append({"name": f"T{index}", "method": "time-and-material", "cap": cap})
        contracts.append({"name": name, "customer": customer, "currency": currency, "lines": lines})
    tm = [(c, i) for c, contract in enumerate(contracts) for i, line in enumerate(contract["lines"])
          if line["method"] == "time-and-material"]
    transactions = [(draw(st.sampled_from(tm)), draw(st.integers(0, 130)), draw(amounts))
                    for _ in range(draw(st.integers(0, 10)) if tm else 0)]
    runs = sorted(draw(st.sets(st.sampled_from(RUN_DATES[:5]), min_size=1, max_size=3)))

    def configuration():
        """The splits in force for a run: the contract's (None: none) and lines' own."""
        found = {}
        for c, contract in enumerate(contracts):
            found[(c, None)] = draw(splits()) if draw(st.integers(0, 3)) else None
            for i in range(len(contract["lines"])):
                if draw(st.integers(0, 4)) == 0:
                    found[(c, i)] = draw(splits(minimum=1))
        return found

    configs = [configuration()]
    for _ in runs[1:]:
        configs.append(configuration() if draw(st.booleans()) else configs[-1])
    return contracts, transactions, runs, configs


class SplitBook:
    """A book built from `books()`, with its splits applied (or none, `with_splits=False`)."""

    def __init__(self, cli, scenario, with_splits: bool = True):
        self.cli = cli
        self.contracts, transactions, self.runs, self.configs = scenario
        self.with_splits = with_splits
        self.items = {}  # ("t"|"m", id) -> (contract index, line index, amount)
        self.line_ids = {}  # (contract index, line index) -> line id
        self.in_force = {}  # (contract index, line index or None) -> split or None
        cli.ok("job", "create", JOB)
        for c, contract in enumerate(self.contracts):
            for i, line in enumerate(contract["lines"]):
                cur = contract["currency"]
                extra = []
                if line["method"] == "fixed-price":
                    extra = ["--amount", money(line["value"], cur)]
                elif line["cap"]:
                    extra = ["--not-to-exceed", money(line["cap"], cur)]
                self.line_ids[(c, i)] = cli.ok(
                    "contract", "add-line", contract["name"], "--name", line["name"],
                    "--customer", contract["customer"], "--billing-method", line["method"], "--currency", cur,
                    *extra)["id"]
                if line["method"] == "time-and-material":
                    cli.ok("schedule", "add", self.line_ids[(c, i)], "--frequency", "monthly", "--start", RUN_DATES[0])
                for name, when, amount, ready in line.get("milestones", []):
                    made = cli.ok("schedule", "add", self.line_ids[(c, i)], "--milestone", name, "--date", when,
                                  "--amount", money(amount, cur), *(["--ready"] if ready else []))
                    self.items[("m", made["id"])] = (c, i, amount)
        for (c, i), offset, amount in transactions:
            made = cli.ok("transaction", "add", self.line_ids[(c, i)], "--date", day(offset),
                          "--amount", money(amount, self.contracts[c]["currency"]))
            self.items[("t", made["id"])] = (c, i, amount)
        cli.ok("job", "run-workflow", JOB, "--workflow", "ProcessRunCaller")

    def apply(self, config: dict) -> None:
        """Make `config` the splits in force: set each that differs, remove those gone."""
        if not self.with_splits:
            return
        for c, contract in enumerate(self.contracts):
            owners = [None, *range(len(contract["lines"]))]
            for owner in owners:
                wanted, now = config.get((c, owner)), self.in_force.get((c, owner))
                if wanted == now:
                    continue
                line = [] if owner is None else ["--line", self.line_ids[(c, owner)]]
                if wanted is None:
                    shown = self.cli.ok("contract", "split", contract["name"], *line, "--none")
                else:
                    shown = self.cli.ok("contract", "split", contract["name"], *line, *split_args(wanted))
                self.in_force[(c, owner)] = wanted
                self.check_shown(c, shown)

    def check_shown(self, c: int, shown: dict) -> None:
        """`contract split` prints what `contract show` does: the splits in the order named,
        percents with two decimals, the rounding customer marked."""
        def expected(split):
            if split is None:
                return []
            names, hundredths, rounding, _ = split
            return [{"customer": n, "percent": percent_text(p, False), "rounding": r}
                    for n, p, r in with_rounding(names, hundredths, rounding, self.contracts[c]["customer"])]
        assert shown["split"] == expected(self.in_force.get((c, None))), shown["split"]
        for i, line in enumerate(shown["lines"]):
            assert line["split"] == expected(self.in_force.get((c, i))), (i, line["split"])

    def parts(self, c: int, i: int):
        """The split in force for a line, as the spec marks it, or None."""
        split = self.in_force.get((c, i)) or self.in_force.get((c, None))
        if split is None:
            return None
        names, hundredths, rounding, _ = split
        return with_rounding(names, hundredths, rounding, self.contracts[c]["customer"])

    def export(self) -> list[dict]:
        return self.cli.ok("invoice", "export", "--all", "--format", "json")["invoices"]


def kind_of(line: dict) -> str:
    return "m" if line["billing_method"] == "fixed-price" else "t"


def details_by_item(invoices: list[dict]) -> dict:
    """(kind, id) -> [(invoice, detail)] over the invoices given."""
    found = defaultdict(list)
    for invoice in invoices:
        for line in invoice["lines"]:
            for d in line["details"]:
                found[(kind_of(line), d["id"])].append((invoice, d))
    return found


def check_invoice_shape(invoice: dict) -> None:
    """An invoice of a run: no zero share, no zero line, no zero invoice; each line the sum
    of its details and counting them; the total the sum of its lines."""
    cur = invoice["currency"]
    assert invoice["lines"], invoice["number"]
    for line in invoice["lines"]:
        shares = [minor(d["amount"], cur) for d in line["details"]]
        assert all(s > 0 for s in shares), (invoice["number"], line["line_id"], shares)  # no zero share
        assert minor(line["amount"], cur) == sum(shares) > 0, (invoice["number"], line)
        count = line["milestones"] if line["billing_method"] == "fixed-price" else line["transactions"]
        assert count == len(shares), (invoice["number"], line["line_id"], count, len(shares))
    assert minor(invoice["total"], cur) == sum(minor(l["amount"], cur) for l in invoice["lines"]) > 0


def build(inv, folder: str, name: str, scenario, with_splits: bool = True) -> SplitBook:
    cli = inv.another(os.path.join(folder, name))
    return SplitBook(cli, scenario, with_splits)


def stripped(document: dict) -> list[dict]:
    return [{k: v for k, v in i.items() if k not in ("number", "status")} for i in document["invoices"]]


def property_settings(inv) -> settings:
    return settings(max_examples=examples(inv, 30), deadline=None, suppress_health_check=SLOW)


# Property 1: the shares of each item

# The last customer before the rounding one may be more than one minor unit off its
# amount x percent / 100 when those named before it rounded up (the spec's "no more than
# what the customers named before it have left"): 0.10 at 5/5/5/84.99/0.01.
def test_every_item_is_cut_into_shares_as_the_spec_says(inv):
    @example(scenario=([{"name": "C-100", "customer": "Fabrikam", "currency": "USD",
                         "lines": [{"name": "T0", "method": "time-and-material", "cap": None}]}],
                       [((0, 0), 3, 10), ((0, 0), 4, 1), ((0, 0), 5, MAX)], ["2026-02-01"],
                       [{(0, None): (["Contoso", "Northwind", "adatum", "\u00c9mile", "Fabrikam"],
                                     [500, 500, 500, 8499, 1], "Fabrikam", False)}]))
    @property_settings(inv)
    @given(scenario=books())
    def check(scenario):
        with tempfile.TemporaryDirectory(dir=TMP) as folder:
            book = build(inv, folder, "book.db", scenario)
            made = {}  # invoice number -> the splits in force for its run, by line
            for run_date, config in zip(book.runs, book.configs):
                book.apply(config)
                parts = {key: book.parts(*key) for key in book.line_ids}
                out = book.cli.ok("run-once", "--date", run_date)
                assert out["status"] == "completed", out
                numbers = [i["number"] for i in out["invoices"]]
                # Numbered by run date, contract name, then customer name, code point by code point.
                order = [(i["run_date"], i["contract"], i["customer"]) for i in out["invoices"]]
                assert order == sorted(order) and numbers == sorted(numbers), order
                assert len(set(order)) == len(order), order  # one per contract, customer and run date
                made.update({n: (run_date, parts) for n in numbers})
            invoices = [i for i in book.export() if i["number"] in made]
            for invoice in invoices:
                check_invoice_shape(invoice)
            # Each transaction, and each share of one, is on an invoice line of its own line:
            # what finding an invoice line's transactions by line relies on (rows.TRANSACTIONS_ON).
            assert query(book.cli, """SELECT t.id FROM transactions t JOIN invoice_lines il ON il.id = t.invoice_line_id
                                       WHERE il.line_id != t.line_id
                                      UNION ALL
                                      SELECT t.id FROM shares s JOIN transactions t ON s.kind = 't' AND t.id = s.item_id
                                        JOIN invoice_lines il ON il.id = s.invoice_line_id
                                       WHERE il.line_id != t.line_id""") == []
            by_contract = {contract["name"]: c for c, contract in enumerate(book.contracts)}
            index_of = {line_id: key for key, line_id in book.line_ids.items()}
            for key, found in details_by_item(invoices).items():
                c, i, amount = book.items[key]
                cur = book.contracts[c]["currency"]
                run_date, by_line = made[found[0][0]["number"]]
                parts = by_line[(c, i)]  # the split in force when that Process step ran
                assert {made[invoice["number"]][0] for invoice, _ in found} == {run_date}, key  # one run billed it
                shares = {}
                for invoice, d in found:
                    assert by_contract[invoice["contract"]] == c and index_of[d["line_id"]] == (c, i)
                    assert minor(d["item_amount"], cur) == amount, (key, d)  # the whole item beside the share
                    assert invoice["customer"] not in shares, (key, invoice["customer"])  # one share a customer
                    shares[invoice["customer"]] = minor(d["amount"], cur)
                assert sum(shares.values()) == amount, (key, amount, shares)  # they add up to the item exactly
                assert all(s > 0 for s in shares.values()), (key, shares)  # no detail with a zero share
                if parts is None:
                    assert shares == {book.contracts[c]["customer"]: amount}, (key, shares)
                    continue
                left = amount
                for customer, hundredths, rounding in parts:
                    if rounding:
                        continue
                    share = shares.get(customer, 0)
                    exact = Decimal(amount) * hundredths / 10000
                    assert share <= left, (key, customer, share, left)  # never above what those before left
                    if share < left:  # not cut by what was left: within half a unit, rounded half up
                        assert abs(share - exact) < 1 and share == (amount * hundredths + 5000) // 10000, \
                            (key, customer, share, str(exact))
                    left -= share
                rest = shares.get(next(n for n, _, r in parts if r), 0)
                assert rest == left >= 0, (key, rest, left)  # the rounding customer: the rest, never below zero
                assert shares == spec_shares(amount, parts), (key, amount, parts, shares)

    check()


# Property 2: against the same book without a split

def test_the_customers_invoices_add_up_to_what_the_book_bills_without_a_split(inv):
    @property_settings(inv)
    @given(scenario=books())
    def check(scenario):
        with tempfile.TemporaryDirectory(dir=TMP) as folder:
            split = build(inv, folder, "split.db", scenario)
            whole = build(inv, folder, "whole.db", scenario, with_splits=False)
            for run_date, config in zip(split.runs, split.configs):
                split.apply(config)
                a = split.cli.ok("run-once", "--date", run_date)
                b = whole.cli.ok("run-once", "--date", run_date)
                assert a["status"] == b["status"] == "completed"
                assert a["skipped"] == b["skipped"]  # the limit applies to whole items, before the split
                by_line = [defaultdict(int), defaultdict(int)]
                totals = [defaultdict(int), defaultdict(int)]
                for n, out in enumerate((a, b)):
                    for invoice in out["invoices"]:
                        cur = invoice["currency"]
                        totals[n][(invoice["contract"], invoice["run_date"])] += minor(invoice["total"], cur)
                        for line in invoice["lines"]:
                            key = (invoice["contract"], invoice["run_date"], line["line_id"])
                            by_line[n][key] += minor(line["amount"], cur)
                assert by_line[0] == by_line[1]
                assert totals[0] == totals[1]
                for invoice in b["invoices"]:  # no split: one invoice for the contract's customer
                    assert invoice["customer"] == dict(CONTRACTS)[invoice["contract"]]
            items = [defaultdict(int), defaultdict(int)]
            for n, book in enumerate((split, whole)):
                for key, found in details_by_item(book.export()).items():
                    for invoice, d in found:
                        items[n][key] += minor(d["amount"], invoice["currency"])
            assert items[0] == items[1]  # item by item, the shares add up to what is billed whole
            assert all(items[1][key] == whole.items[key][2] for key in items[1])

    check()


# Property 3: a dry run

def test_a_dry_run_shows_what_the_run_then_makes(inv):
    @property_settings(inv)
    @given(scenario=books())
    def check(scenario):
        with tempfile.TemporaryDirectory(dir=TMP) as folder:
            book = build(inv, folder, "book.db", scenario)
            issued = 0
            for run_date, config in zip(book.runs, book.configs):
                book.apply(config)
                before = dump(book.cli)
                dry = book.cli.ok("run-once", "--date", run_date, "--dry-run")
                assert dump(book.cli) == before  # a dry run writes nothing
                real = book.cli.ok("run-once", "--date", run_date)
                assert (dry["status"], real["status"]) == ("dry-run", "completed")
                assert {i["number"] for i in dry["invoices"]} <= {None}
                assert {i["status"] for i in dry["invoices"]} <= {"dry-run"}
                assert stripped(dry) == stripped(real)
                assert dry["skipped"] == real["skipped"] and dry["run_date"] == real["run_date"]
                numbers = [i["number"] for i in real["invoices"]]
                assert numbers == [f"INV-{issued + k:06d}" for k in range(1, len(numbers) + 1)]  # no number taken
                issued += len(numbers)

    check()


# Property 4: sequences of run, cancel, confirm, credit, undo

def stable(invoice: dict) -> tuple:
    """What a confirmed invoice bills, which never changes (its items' own state does)."""
    return (invoice["number"], invoice["customer"], invoice["total"],
            [(l["line_id"], l["amount"], [(d["id"], d["amount"], d["item_amount"]) for d in l["details"]])
             for l in invoice["lines"]])


class Shares:
    """The model of one item's shares: customer -> [amount, invoice number or None (billable
    again, to that customer alone)]; empty: one item, split when it is next billed."""

    def __init__(self, key, line: int, amount: int, date: str, customer: str | None = None):
        self.key, self.line, self.amount, self.date = key, line, amount, date
        self.customer = customer  # a returned transaction's: billed to that customer alone
        self.parts: dict[str, list] = {}
        self.split = False  # billed by a split (its returns carry the customer)
        self.returned: set[str] = set()  # customers whose share a credit note gave back

    def release(self, numbers: set, returned: bool = False) -> None:
        """The shares on `numbers` billable again: cancelled, or (`returned`) given back by
        a confirmed credit note, which makes them their customers' for good. Whole again
        once every share is billable again and none was given back."""
        for customer, part in self.parts.items():
            if part[1] in numbers:
                part[1] = None
                if returned:
                    self.returned.add(customer)
        if all(part[1] is None for part in self.parts.values()) and not self.returned:
            self.parts = {}

    def live(self) -> dict:
        return {c: (a, n) for c, (a, n) in self.parts.items() if n is not None}


run_op = st.tuples(st.just("run"), st.booleans())
cancel_op = st.tuples(st.just("cancel"), st.integers(0, 50))
confirm_op = st.tuples(st.just("confirm"), st.integers(0, 50))
credit_op = st.tuples(st.just("credit"), st.integers(0, 50), st.one_of(st.none(), st.integers(0, 20)),
                      st.sampled_from([None, "0", "half"]), st.integers(0, 3).map(lambda n: n == 0))
confirm_credit_op = st.tuples(st.just("confirm-credit"), st.integers(0, 50))
# Confirm a draft, credit a confirmed invoice (in full or one item), maybe confirm the
# credit note: a credit needs a confirmed invoice first, which random order seldom makes.
correct_op = st.tuples(st.just("correct"), st.integers(0, 50), credit_op.map(lambda c: c[1:]), st.booleans())
ops = st.lists(st.one_of(
    run_op, run_op, cancel_op, cancel_op, confirm_op, correct_op, correct_op, correct_op, credit_op,
    confirm_credit_op,
    st.tuples(st.just("undo")),
    st.tuples(st.just("resplit"), st.one_of(st.none(), splits())),
    st.tuples(st.just("tx"), st.integers(0, 2), st.integers(0, 130), small_amounts),
), min_size=3, max_size=14)


# Payment terms by customer: confirmed today (2026-11-24), each customer's invoice is due
# after its own record's terms, else the default 30 days (no seller terms here).
TERMS = {"Contoso": 10, "Northwind": 45, "\u00c9mile": 0}
DUE = defaultdict(lambda: "2026-12-24",
                  {"Contoso": "2026-12-04", "Northwind": "2027-01-08", "\u00c9mile": "2026-11-24"})


class Sequence:
    """A contract C-100 of two time-and-material lines and a fixed-price one, split between
    customers (T2 may have its own split), and a contract B-7 of one customer."""

    def __init__(self, cli, split, own, milestones, seed):
        self.cli = cli
        self.day = 0
        self.log: list[str] = []  # the commands run, for a failure's report
        cli.ok("job", "create", JOB)
        for customer, days in TERMS.items():
            cli.ok("customer", "set", customer, "--payment-terms-days", days)
        self.tm = [cli.line("C-100", "T1"), cli.line("C-100", "T2"), cli.line("B-7", "T3", customer="Contoso")]
        self.fp = cli.line("C-100", "F", "fixed-price", "Fabrikam", "--amount", money(sum(milestones)))
        self.contract_of = {self.tm[0]: "C-100", self.tm[1]: "C-100", self.tm[2]: "B-7", self.fp: "C-100"}
        for line in self.tm:
            cli.ok("schedule", "add", line, "--frequency", "monthly", "--start", RUN_DATES[0])
        self.items: dict[tuple, Shares] = {}
        for k, (amount, when) in enumerate(zip(milestones, MILESTONE_DATES[::2])):
            made = cli.ok("schedule", "add", self.fp, "--milestone", f"M{k}", "--date", when, "--amount",
                          money(amount), "--ready")
            self.items[("m", made["id"])] = Shares(("m", made["id"]), self.fp, amount, when)
        self.in_force = {None: None, self.tm[1]: None}  # C-100's split, and T2's own
        self.resplit(split)
        if own is not None:
            self.in_force[self.tm[1]] = own
            cli.ok("contract", "split", "C-100", "--line", self.tm[1], *split_args(own))
        for step in seed:
            self.tx(*step)
        cli.ok("job", "run-workflow", JOB, "--workflow", "ProcessRunCaller")
        self.pending: dict[str, dict] = {}  # draft credit note -> what it credits
        self.seen: dict[str, dict] = {}  # confirmed invoice -> as first exported confirmed

    def __call__(self, *args):
        self.log.append(" ".join(map(str, args)))
        return self.cli(*args, "--json")

    def ok(self, *args):
        result = self(*args)
        assert result.exit_code == 0, (args, result.stdout, result.stderr, self.log)
        return result.json

    # the model

    def parts(self, line: int):
        if self.contract_of[line] != "C-100":
            return None
        split = self.in_force.get(line) or self.in_force[None]
        if split is None:
            return None
        names, hundredths, rounding, _ = split
        return with_rounding(names, hundredths, rounding, "Fabrikam")

    def expected_whole(self, item: Shares) -> dict[str, int]:
        """How an item billed whole is cut: to its one customer, by the split in force, or
        to the contract's customer."""
        if item.customer is not None:
            return {item.customer: item.amount}
        parts = self.parts(item.line)
        if parts is None:
            return {"Fabrikam" if self.contract_of[item.line] == "C-100" else "Contoso": item.amount}
        return spec_shares(item.amount, parts)

    # steps

    def tx(self, index: int, offset: int, amount: int) -> None:
        line = self.tm[index]
        made = self.ok("transaction", "add", line, "--date", day(offset), "--amount", money(amount))
        self.items[("t", made["id"])] = Shares(("t", made["id"]), line, amount, day(offset))

    def resplit(self, split) -> None:
        if split is None:
            if self.in_force[None] is not None:
                self.ok("contract", "split", "C-100", "--none")
        else:
            self.ok("contract", "split", "C-100", *split_args(split))
        self.in_force[None] = split

    def run(self, advance: bool, run_date: str | None = None) -> None:
        self.day = min(self.day + int(advance), len(RUN_DATES) - 1)
        when = run_date or RUN_DATES[self.day]
        dry = self.ok("run-once", "--date", when, "--force", "--dry-run")
        out = self.ok("run-once", "--date", when, "--force")
        # Property 3 again, on a book with shares billable again and credits returned.
        assert (stripped(dry), dry["skipped"]) == (stripped(out), out["skipped"]), self.log
        numbers = {i["number"] for i in out["invoices"]}
        made = [i for i in self.export() if i["number"] in numbers]
        assert len(made) == len(numbers)
        new = defaultdict(dict)
        for invoice in made:
            check_invoice_shape(invoice)
            for line in invoice["lines"]:
                for d in line["details"]:
                    key = (kind_of(line), d["id"])
                    assert invoice["customer"] not in new[key], (key, invoice["number"], self.log)
                    new[key][invoice["customer"]] = (minor(d["amount"]), invoice["number"])
        for key, billed in new.items():
            item = self.items[key]
            amounts = {c: a for c, (a, _) in billed.items()}
            if not item.parts:  # one item: cut by the split in force now
                assert amounts == self.expected_whole(item), (key, item.amount, self.parts(item.line), amounts,
                                                              self.log)
                item.split = item.customer is None and self.parts(item.line) is not None
                if len(amounts) > 1:
                    seen("an item split between customers")
                item.parts = {c: [a, n] for c, (a, n) in billed.items()}
            else:  # the shares billable again: each to its customer alone, at the same amount
                again = {c: a for c, (a, n) in item.parts.items() if n is None}
                seen("a share billed again to its customer alone")
                assert amounts == again, (key, item.parts, amounts, self.log)
                for c, (_, n) in billed.items():
                    item.parts[c][1] = n

    def drafts(self, type_: str | None = None) -> list[dict]:
        return [i for i in self.ok("invoice", "list")["invoices"]
                if i["status"] == "draft" and type_ in (None, i["type"])]

    def cancel(self, k: int) -> None:
        drafts = self.drafts()
        if drafts:
            number = drafts[k % len(drafts)]["number"]
            assert self.ok("invoice", "cancel", number)["status"] == "cancelled"
            self.cancelled(number)

    def cancelled(self, number: str) -> None:
        if number.startswith("CRN"):
            self.pending.pop(number)
        for item in self.items.values():
            item.release({number})
            if item.live() and len(item.live()) < len(item.parts):
                seen("one customer's shares billable again, the others' still billed")

    def confirm(self, k: int, type_: str | None = None) -> None:
        drafts = self.drafts(type_)
        if not drafts:
            return
        self.confirm_number(drafts[k % len(drafts)]["number"])

    def confirm_number(self, number: str) -> None:
        before = {t["id"] for t in self.transactions()}
        done = self.ok("invoice", "confirm", number)
        assert done["status"] == "confirmed"
        if done["type"] == "invoice":  # its due date from its own customer's record
            assert (done["issue_date"], done["due_date"]) == ("2026-11-24", DUE[done["customer"]]), (done, self.log)
        if number.startswith("CRN"):
            self.credit_confirmed(number, before)

    def correct(self, k: int, credit: tuple, confirm_note: bool) -> None:
        self.confirm(k, "invoice")
        self.check()
        made = self.credit(*credit)
        if made and confirm_note:
            self.check()
            self.confirm_number(made)

    def confirm_credit(self, k: int) -> None:
        self.confirm(k, "credit-note")

    def credit_confirmed(self, number: str, before: set) -> None:
        """What a confirmed credit note returns: each credited transaction amount as a new
        transaction, billed to that customer alone where it credited a share; each credited
        share of a milestone billable again, to that customer alone."""
        note = self.pending.pop(number)
        new = [t for t in self.transactions() if t["id"] not in before]
        assert {t["returned_from"] for t in new} <= {number}, new
        returned = sorted((t["line_id"], t["date"], minor(t["amount"]), t["customer"], t["id"]) for t in new)
        expected = []
        for key, credited in note["items"].items():
            item = self.items[key]
            if note["write_off"]:
                continue
            if key[0] == "t":
                carries = note["customer"] if (item.split or item.customer is not None) else None
                expected.append((item.line, item.date, credited, carries))
                seen("a transaction's share credited and returned")
            else:
                seen("a milestone's share credited and billable again")
                item.release({note["credits"]}, returned=True)
        assert [r[:4] for r in returned] == sorted(expected), (returned, expected, self.log)
        for line, when, amount, customer, tid in returned:
            self.items[("t", tid)] = Shares(("t", tid), line, amount, when, customer)

    def still_billed(self, number: str, invoices: list[dict]) -> dict:
        """What each item has still billed on the invoice: its share less what that
        invoice's credit notes not cancelled credit of it."""
        by_number = {i["number"]: i for i in invoices}
        still = {(kind_of(line), d["id"]): minor(d["amount"]) for line in by_number[number]["lines"]
                 for d in line["details"]}
        for note in invoices:
            if note["credits"] == number and note["status"] != "cancelled":
                for line in note["lines"]:
                    for d in line["details"]:
                        still[(kind_of(line), d["id"])] += minor(d["amount"])
        return still

    def credit(self, k: int, which: int | None, keep: str | None, write_off: bool) -> str | None:
        invoices = self.export()
        confirmed = [i for i in invoices if i["status"] == "confirmed" and i["type"] == "invoice"]
        if not confirmed:
            return None
        invoice = confirmed[k % len(confirmed)]
        still = self.still_billed(invoice["number"], invoices)
        args, expected = [], {}
        if which is None:
            expected = {key: left for key, left in still.items() if left > 0}
        else:
            keys = list(still)
            key = keys[which % len(keys)]
            left = still[key]
            if key[0] == "m":
                args = ["--milestone", key[1]]
                expected = {key: left} if left > 0 else {}
            else:
                kept = None if keep is None else 0 if keep == "0" else left // 2
                args = ["--transaction", key[1] if kept is None else f"{key[1]}={money(kept)}"]
                expected = {key: left - (kept or 0)} if left > 0 else {}
        result = self("invoice", "credit", invoice["number"], *args, *(["--write-off"] if write_off else []))
        assert result.exit_code == (0 if expected else 1), (args, still, result.stderr, self.log)
        if not expected:
            return None
        note = result.json
        credited = {(kind_of(line), d["id"]): -minor(d["amount"]) for line in note["lines"] for d in line["details"]}
        assert credited == expected, (credited, expected, self.log)  # the share, less what is kept
        assert note["customer"] == invoice["customer"] and note["credits"] == invoice["number"]
        self.pending[note["number"]] = {"items": credited, "write_off": write_off, "credits": invoice["number"],
                                        "customer": invoice["customer"]}
        return note["number"]

    def undo(self) -> None:
        runs = [r for r in self.ok("run", "list")["runs"] if not r["undone"]]
        if not runs:
            return
        latest = runs[-1]
        status = {i["number"]: i["status"] for i in self.ok("invoice", "list")["invoices"]}
        confirmed = any(status[n] == "confirmed" for n in latest["invoices"])
        result = self("run", "undo", latest["id"])
        assert result.exit_code == (1 if confirmed else 0), (result.stderr, self.log)
        if not confirmed:
            seen("a run undone")
            for number in latest["invoices"]:
                if status[number] != "cancelled":
                    self.cancelled(number)

    # what the book says

    def export(self) -> list[dict]:
        return self.ok("invoice", "export", "--all", "--format", "json")["invoices"]

    def transactions(self) -> list[dict]:
        return self.ok("transaction", "list")["transactions"]

    def check(self) -> None:
        invoices = self.export()
        for i in invoices:
            if i["status"] == "confirmed":  # a confirmed invoice never changes
                assert self.seen.setdefault(i["number"], stable(i)) == stable(i), (i["number"], self.log)
        # Milestone shares a confirmed credit note returned (billable again), by invoice.
        returned = set()
        credited = defaultdict(int)  # (invoice, key) -> what its confirmed credit notes credit
        for note in invoices:
            if note["type"] == "credit-note" and note["status"] == "confirmed":
                for line in note["lines"]:
                    for d in line["details"]:
                        key = (kind_of(line), d["id"])
                        credited[(note["credits"], key)] -= minor(d["amount"])
                        if key[0] == "m" and not note["write_off"]:
                            returned.add((note["credits"], key))
        live = defaultdict(dict)  # key -> customer -> (share, invoice)
        net = defaultdict(int)
        billed_to = defaultdict(list)  # (key, customer) -> invoices where it is billed net
        holding = defaultdict(set)  # transaction id -> invoices not cancelled with a share of it
        for i in invoices:
            if i["status"] == "cancelled" or i["type"] != "invoice":
                continue
            for line in i["lines"]:
                for d in line["details"]:
                    key = (kind_of(line), d["id"])
                    share = minor(d["amount"])
                    assert minor(d["item_amount"]) == self.items[key].amount, (key, d, self.log)
                    left = share - credited[(i["number"], key)]
                    assert 0 <= left <= share, (key, i["number"], share, left)
                    net[key] += left
                    if left > 0:
                        billed_to[(key, i["customer"])].append(i["number"])
                    if key[0] == "t":
                        holding[key[1]].add(i["number"])
                    if (i["number"], key) not in returned:
                        assert i["customer"] not in live[key], (key, i["customer"], self.log)
                        live[key][i["customer"]] = (share, i["number"])
        for (key, customer), numbers in billed_to.items():
            assert len(numbers) == 1, (key, customer, numbers, self.log)  # nothing billed twice to one customer
        for key, amount in net.items():
            assert amount <= self.items[key].amount, (key, amount, self.items[key].amount, self.log)
        for key, item in self.items.items():
            assert dict(live.get(key, {})) == item.live(), (key, dict(live.get(key, {})), item.parts, self.log)
        for t in self.transactions():
            assert set(t["invoices"]) == holding.get(t["id"], set()), (t, holding.get(t["id"]), self.log)
            assert len(t["invoices"]) == len(set(t["invoices"]))
            assert t["invoice"] == (t["invoices"][0] if t["invoices"] else None), t
            assert t["billed"] == bool(t["invoices"]), t
            item = self.items[("t", t["id"])]
            assert t["customer"] == item.customer, (t, item.customer, self.log)

    def settle(self) -> None:
        """Every draft undone or cancelled, everything billed again (every milestone here is
        ready): each item's shares add up to the item again."""
        while True:
            runs = [r for r in self.ok("run", "list")["runs"] if not r["undone"]]
            status = {i["number"]: i["status"] for i in self.ok("invoice", "list")["invoices"]}
            if not runs or any(status[n] == "confirmed" for n in runs[-1]["invoices"]):
                break
            self.undo()
            self.check()
        for draft in self.drafts():
            self.ok("invoice", "cancel", draft["number"])
            self.cancelled(draft["number"])
        self.check()
        self.run(False, FINAL)
        self.check()
        for key, item in self.items.items():
            shares = item.live()
            assert shares and all(n is not None for _, n in item.parts.values()), (key, item.parts, self.log)
            assert sum(a for a, _ in shares.values()) == item.amount, (key, item.amount, shares, self.log)


def play(inv, split, own, milestones, seed, plan) -> None:
    with tempfile.TemporaryDirectory(dir=TMP) as folder:
        cli = inv.another(os.path.join(folder, "book.db"))
        book = Sequence(cli, split, own, milestones, seed)
        book.check()
        for step in plan:
            getattr(book, step[0].replace("-", "_"))(*step[1:])
            book.check()
        book.settle()


def test_cancel_credit_undo_never_bill_a_share_twice_and_the_shares_come_back_whole(inv):
    @settings(max_examples=examples(inv, 25), deadline=None, suppress_health_check=SLOW)
    @given(split=splits(), own=st.one_of(st.none(), st.none(), splits(minimum=1)),
           milestones=st.lists(small_amounts, min_size=1, max_size=2),
           seed=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 40), small_amounts), min_size=1, max_size=5),
           first=correct_op, plan=ops)
    def check(split, own, milestones, seed, first, plan):
        # A first run and a first correction: something to work on.
        play(inv, split, own, milestones, seed, [("run", False), first, *plan])

    check()


def test_a_share_credited_twice_still_goes_back_to_its_customer_alone(inv):
    """A transaction a credit note returned from Contoso's share is billed to Contoso
    alone; credited again, what returns still carries Contoso and is billed to Contoso
    alone (not split again between Contoso and Fabrikam)."""
    play(inv, split=(["Contoso", "Fabrikam"], [6000, 4000], None, False), own=None, milestones=[1],
         seed=[(0, 5, 10_000)],
         plan=[("run", False), ("confirm", 1), ("credit", 0, None, None, False), ("confirm-credit", 0),
               ("run", True), ("confirm", 2), ("credit", 1, None, None, False), ("confirm-credit", 0)])
