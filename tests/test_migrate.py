"""`invoicer migrate-to URI`: a book moved from its SQLite file to a PostgreSQL server whole,
ids and numbers kept, the file left as it was; refused, with nothing copied, into a book
that holds anything, from a server, or to what is not a server."""

import json

import pytest

from tests.conftest import JOB, Invoicer, dump

pytestmark = pytest.mark.sqlite_only  # the source is a file; the target is each test's server


@pytest.fixture
def book(inv):
    """A file with a bit of everything: a split contract, a fixed-price line with
    milestones, transactions with refs (one deleted), a run, a confirmed invoice and its
    credit note, the parties, a job and its running workflow."""
    inv.ok("seller", "set", "--name", "Contoso GmbH", "--country", "DE", "--vat-id", "DE123456789",
           "--tax-category", "S", "--tax-rate", "19")
    inv.ok("customer", "set", "Fabrikam", "--country", "DE", "--payment-terms-days", "14")
    inv.work = inv.line("C-1", "Work")
    inv.licence = inv.line("C-1", "Licence", "fixed-price", "Fabrikam", "--amount", "1000.00")
    inv.support = inv.line("C-2", "Support", "time-and-material", "Contoso")
    inv.ok("contract", "split", "C-2", "--customer", "Contoso=60", "--customer", "Northwind=40")
    for line in (inv.work, inv.support):
        inv.ok("schedule", "add", line, "--frequency", "monthly", "--start", "2026-09-01")
    inv.ok("schedule", "add", inv.licence, "--milestone", "Go", "--date", "2026-10-01", "--amount", "400.00", "--ready")
    inv.ok("schedule", "add", inv.licence, "--milestone", "Live", "--date", "2027-01-01", "--amount", "600.00")
    for day, amount, ref in (("2026-09-10", "1600.00", "a-1"), ("2026-09-12", "400.00", "a-2"),
                             ("2026-09-15", "250.00", None), ("2026-10-20", "99.00", "a-3")):
        inv.ok("transaction", "add", inv.support if ref is None else inv.work, "--date", day, "--amount", amount,
               *(("--ref", ref) if ref else ()))
    gone = inv.ok("transaction", "add", inv.work, "--date", "2026-10-21", "--amount", "5.00", "--ref", "a-4")["id"]
    inv.ok("transaction", "delete", gone)
    inv.setup_job()
    inv.ok("run-once", "--date", "2026-10-01")
    inv.ok("invoice", "confirm", "INV-000001", "--issue-date", "2026-10-02")
    inv.ok("invoice", "credit", "INV-000001", "--reason", "a wrong rate")
    return inv


READS = [("contract", "list"), ("schedule", "list"), ("transaction", "list"), ("invoice", "list"),
         ("invoice", "show", "INV-000001"), ("invoice", "show", "CRN-000001"), ("run", "list"), ("job", "list"),
         ("seller", "show"), ("customer", "list"), ("doctor",)]


def printed(store, read) -> str:
    """What a read prints, with --json; doctor's integrity check is each store's own (the
    file's PRAGMA, the server's constraints): its verdict is compared, not its words."""
    out = store(*read, "--json").stdout
    if read == ("doctor",):
        document = json.loads(out)
        for check in document["checks"]:
            if check["name"] == "integrity" and check["ok"]:
                check["message"] = "ok"
        return json.dumps(document)
    return out


def test_the_moved_book_reads_as_the_file_does_and_the_file_is_left_as_it_was(book, postgres_db):
    server = Invoicer(postgres_db, book.monkeypatch)
    before = dump(book)
    moved = book.ok("migrate-to", postgres_db)
    assert moved["migrated_to"] == postgres_db
    assert moved["tables"]["transactions"] == 4 and moved["tables"]["deleted_refs"] == 1
    assert moved["tables"]["invoices"] == 4  # C-1's, C-2's two (split between two customers), the credit note
    assert dump(book) == before
    for read in READS:
        assert printed(server, read) == printed(book, read), read


def test_the_moved_book_goes_on_as_the_file_would_ids_and_numbers_never_reused(book, postgres_db):
    """The deleted transaction's id is not given again; the next run's numbers follow."""
    server = Invoicer(postgres_db, book.monkeypatch)
    book.ok("migrate-to", postgres_db)
    for store in (book, server):
        store.ok("transaction", "add", book.work, "--date", "2026-10-25", "--amount", "10.00")
        store.ok("contract", "add-line", "C-3", "--name", "New", "--customer", "Adatum",
                 "--billing-method", "time-and-material")
        store.ok("invoice", "confirm", "CRN-000001")
    for store in (book, server):
        store.ok("run-once", "--date", "2026-11-01")
        store.ok("invoice", "confirm", "INV-000002", "--issue-date", "2026-11-02")
        store.ok("invoice", "credit", "INV-000002")
    for read in READS + [("run-once", "--dry-run", "--date", "2026-12-01")]:
        assert printed(server, read) == printed(book, read), read


def test_a_server_book_that_holds_anything_is_refused_and_nothing_is_copied(book, postgres_db):
    server = Invoicer(postgres_db, book.monkeypatch)
    server.ok("job", "create", JOB)
    before = dump(server)
    result = book("migrate-to", postgres_db, "--json")
    assert result.exit_code == 1 and "already holds a book" in result.error["message"]
    assert dump(server) == before


def test_only_a_file_moves_and_only_to_a_server(book, postgres_db, tmp_path):
    server = Invoicer(postgres_db, book.monkeypatch)
    result = book("migrate-to", str(tmp_path / "other.db"), "--json")
    assert result.exit_code == 1 and "not a PostgreSQL connection URI" in result.error["message"]
    assert not (tmp_path / "other.db").exists()
    result = server("migrate-to", postgres_db, "--json")
    assert result.exit_code == 1 and "from an SQLite file" in result.error["message"]


def test_a_move_to_a_server_that_cannot_be_reached_says_so_in_one_line(book):
    before = dump(book)
    result = book("migrate-to", "postgresql://invoicer:s3cret@127.0.0.1:1/nowhere")
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "port 1" in result.stderr
    assert "s3cret" not in result.stderr + result.stdout
    assert dump(book) == before
