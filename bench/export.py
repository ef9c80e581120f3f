"""Documents at month-end: `invoice export --all --format ubl|facturx|pdf` of N confirmed
invoices, as documents per second, against the JSON export of the same invoices (the
records the documents are made of) measured in the same run.

Builds a book of N contracts (one time-and-material line each, S 19 %, K transactions)
through the public commands, runs the month-end, confirms it, and times each export
into a fresh folder. Checks that each export wrote one file per invoice.

usage: python bench/export.py [--invoices N] [--per-line K] [--pdf-invoices M]
"""

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import RUN_DATE, compile_package, invoicer, run_measured  # noqa: E402

SELLER = ["--name", "Bench Seller GmbH", "--country", "DE", "--street", "Hauptstraße 1", "--city", "Berlin",
          "--postcode", "10115", "--vat-id", "DE123456789", "--iban", "DE89370400440532013000",
          "--tax-category", "S", "--tax-rate", "19"]
CUSTOMER = ["--country", "FR", "--street", "1 rue de la Paix", "--city", "Paris", "--postcode", "75002",
            "--vat-id", "FR12345678901"]


def book(folder: Path, invoices: int, per_line: int) -> Path:
    db = folder / "book.db"
    with open(folder / "contracts.csv", "w") as c, open(folder / "schedules.csv", "w") as s, \
            open(folder / "transactions.csv", "w") as t:
        c.write("contract,name,customer,billing_method\n")
        s.write("contract,line,frequency,start\n")
        t.write("contract,line,date,amount,type,description\n")
        for n in range(invoices):
            contract = f"C-{n:07d}"
            c.write(f"{contract},Design,Fabrikam,time-and-material\n")
            s.write(f"{contract},Design,monthly,{RUN_DATE}\n")
            for k in range(per_line):
                t.write(f"{contract},Design,2026-10-{1 + (k * 7 + n) % 31:02d},{100 + k}.{n % 100:02d},time,"
                        f"Work package {k}\n")
    invoicer(db, "job", "create", "Bench create invoices")
    invoicer(db, "job", "run-workflow", "Bench create invoices", "--workflow", "ProcessRunCaller")
    invoicer(db, "seller", "set", *SELLER)
    invoicer(db, "customer", "set", "Fabrikam", *CUSTOMER)
    for kind in ("contract", "schedule", "transaction"):
        invoicer(db, kind, "import", str(folder / f"{kind}s.csv"))
    invoicer(db, "run-once", "--date", RUN_DATE)
    invoicer(db, "invoice", "confirm", "--all")
    return db


def timed_export(db: Path, folder: Path, fmt: str, *narrow: str) -> tuple[float, float, int]:
    out = folder / f"out-{fmt}"
    shutil.rmtree(out, ignore_errors=True)
    args = ["invoice", "export", *(narrow or ["--all"]), "--format", fmt]
    if fmt in ("ubl", "facturx", "pdf"):
        args += ["--out", str(out)]
    seconds, peak = run_measured(db, *args)
    written = len(list(out.iterdir())) if out.exists() else 0
    return seconds, peak, written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--per-line", type=int, default=5)
    parser.add_argument("--pdf-invoices", type=int, default=200, help="how many of them to render as PDF/Factur-X")
    options = parser.parse_args()
    compile_package()
    with tempfile.TemporaryDirectory(prefix="invoicer-export-bench-") as work:
        work = Path(work)
        db = book(work, options.invoices, options.per_line)
        base, base_peak, _ = timed_export(db, work, "json")
        print(f"{options.invoices:,} confirmed invoices, {options.per_line} transactions each")
        print("| export | documents | seconds | documents/s | vs json export | peak |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        print(f"| json (baseline, stdout) | {options.invoices:,} | {base:.2f} | {options.invoices / base:,.0f} | 1.00 | "
              f"{base_peak:.0f} MiB |")
        some = [f"INV-{n:06d}" for n in range(1, min(options.pdf_invoices, options.invoices) + 1)]
        for fmt, narrow in (("ubl", ()), ("facturx", tuple(some)), ("pdf", tuple(some))):
            seconds, peak, written = timed_export(db, work, fmt, *narrow)
            count = len(narrow) or options.invoices
            if written != count:
                sys.exit(f"{fmt}: expected {count} files, found {written}")
            # The same invoices as JSON, for a ratio that the machine's speed cancels out of.
            ratio = seconds / (base * count / options.invoices)
            print(f"| {fmt} | {count:,} | {seconds:.2f} | {count / seconds:,.0f} | {ratio:.1f} | {peak:.0f} MiB |")


if __name__ == "__main__":
    main()
