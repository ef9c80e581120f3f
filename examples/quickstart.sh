#!/usr/bin/env bash
# Builds the example book in examples/demo.db and runs the seed's scenario end to end:
# the "create invoices" job, its ProcessRunner workflow (Process at once, then Sleep),
# and the invoices it creates. Uses `invoicer` from PATH, else from ./.venv.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
PATH="$(cd "$here/.." && pwd)/.venv/bin:$PATH"
export INVOICER_DB="${INVOICER_DB:-$here/demo.db}"
# The example's clock: the day its invoices, as the README shows them, are made. Give
# INVOICER_NOW (an ISO date-time) to run it on another day.
export INVOICER_NOW="${INVOICER_NOW:-2026-11-24T09:00:00}"
rm -f "$INVOICER_DB" "$INVOICER_DB-wal" "$INVOICER_DB-shm"
JOB="Project operations create invoices"
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"; "$@"; }

step invoicer job create "$JOB" --job-type None --frequency Daily --active
step invoicer contract import "$here/contracts.csv"
step invoicer schedule import "$here/schedules.csv"
step invoicer transaction import "$here/transactions.jsonl"
step invoicer contract list
step invoicer job run-workflow "$JOB" --workflow ProcessRunner
step invoicer run-once
step invoicer job status
step invoicer invoice list
# The README's invoice: C-100's for the run date 2026-11-01, once the clock has reached it.
number="$(invoicer invoice list --contract C-100 --from 2026-11-01 --to 2026-11-01 --json | grep -o 'INV-[0-9]*' | head -n 1 || true)"
if [ -n "$number" ]; then
    step invoicer invoice show "$number"
else
    printf '\nNo invoice for C-100 and the run date 2026-11-01 yet: on %s, that run date has not come.\n' "$INVOICER_NOW"
fi
step invoicer schedule list 1
printf '\nThe book is in %s: try `INVOICER_DB=%s %s invoice list`.\n' "$INVOICER_DB" "$INVOICER_DB" "$(command -v invoicer)"
printf 'Its clock was %s (INVOICER_NOW); without it, invoicer runs on today.\n' "$INVOICER_NOW"
