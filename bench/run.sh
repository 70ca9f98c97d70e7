#!/usr/bin/env bash
# Benchmark (not a test): a daily `flowc run` over generated contacts with
# the birthday example's flows, delivering to the file outbox, release
# build; beside it the floor (reading and typing the same contacts file),
# the peak memory, a second run at the same instant, and the next day's run.
#
#   bash bench/run.sh            # 1,000,000 contacts
#   CONTACTS=100000 bash bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
count=${CONTACTS:-1000000}
cargo build --release --quiet
# Beside the build, not in /tmp: creating the outbox's files costs what the
# file system's allocator makes it cost, and a busy /tmp can be ten times
# slower than a fresh directory elsewhere on the same disk.
mkdir -p target
dir=$(mktemp -d -p "$PWD/target" bench-run.XXXXXX)
trap 'rm -rf "$dir"' EXIT

python3 - "$count" "$dir/contacts.csv" <<'PY'
import random, sys
count, path = int(sys.argv[1]), sys.argv[2]
random.seed(7)
zones = ["Europe/Paris", "America/New_York", "America/Vancouver", "Asia/Kathmandu",
         "Australia/Lord_Howe", "Pacific/Kiritimati", "UTC", ""]
with open(path, "w") as f:
    f.write("id,email,first_name,time_zone,birthday,email_optin\n")
    for i in range(count):
        y, m, d = random.randint(1950, 2005), random.randint(1, 12), random.randint(1, 28)
        optin = "true" if i % 10 else "false"
        f.write(f"c{i},c{i}@example.com,Ana,{zones[i % len(zones)]},{y}-{m:02d}-{d:02d},{optin}\n")
PY
echo "contacts: $count ($(du -h "$dir/contacts.csv" | cut -f1))"

BENCH_CSV="$dir/contacts.csv" cargo bench --quiet --bench vm 2>/dev/null | grep floor

# One run: wall time, peak memory, what it did.
run() {
  local label=$1 now=$2
  /usr/bin/time -f "%e %M %U %S" -o "$dir/time" ./target/release/flowc run \
    --program examples/birthday --contacts "$dir/contacts.csv" \
    --state "$dir/flow.db" --outbox "$dir/outbox" --now "$now" --lookback 1d --json \
    > "$dir/summary.json" 2>/dev/null || true
  read -r seconds kib user sys < <(tail -1 "$dir/time")
  local summary
  summary=$(python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print(f\"{s['contacts']} contacts, state read for {s['state_read']}, {s['due']} due, {s['delivered']} delivered, {s['skipped']} skipped\")" "$dir/summary.json" 2>/dev/null || echo "no summary")
  echo "$label: ${seconds} s (CPU ${user} s user, ${sys} s system), peak memory $((kib / 1024)) MiB ($summary)"
}
run "first daily run (24 h window)" 2027-03-15T23:00:00Z
run "second run at the same instant" 2027-03-15T23:00:00Z
run "next day's run (24 h window)  " 2027-03-16T23:00:00Z
run "an hour later (1 h window)     " 2027-03-17T00:00:00Z
echo "outbox: $(ls "$dir/outbox" | wc -l) files"
