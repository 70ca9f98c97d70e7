#!/usr/bin/env bash
# Benchmark (not a test): SIGKILL loop against a real SMTP server (aiosmtpd,
# storing every message it accepts). For each of KILLS trials (default 50)
# at 1 and 8 connections: a fresh state, `flowc run` delivering MAILS offers
# (default 600) killed with SIGKILL at a random instant of its delivery,
# then a run that completes. Prints kills, the kills that landed while
# messages were going, the copies too many (duplicates) by Message-ID, the
# sends the state reports in doubt, and the messages lost (never arrived).
# Guarantee 6: lost is 0 and duplicates <= in doubt, always.
set -euo pipefail
mails=${MAILS:-600}
kills=${KILLS:-50}
# shellcheck source=bench/offers.sh
source "$(dirname "$0")/offers.sh"

# run WORKDIR PORT CONNECTIONS: one `flowc run` in WORKDIR.
run() {
  (cd "$1" && exec "$bin" run --program "$dir/b.flowb" --contacts "$dir/contacts.csv" \
    --now 2027-05-31T07:00:00Z --lookback 1d --smtp "127.0.0.1:$2" --smtp-connections "$3" \
    >/dev/null 2>&1)
}

# count MAILDIR STATUS_JSON: "unique copies_too_many in_doubt"
count() {
  python3 - "$1" "$2" <<'PY'
import collections, json, os, sys
ids = collections.Counter()
for sub in ("new", "cur"):
    folder = os.path.join(sys.argv[1], sub)
    for name in os.listdir(folder) if os.path.isdir(folder) else []:
        with open(os.path.join(folder, name), errors="replace") as f:
            for line in f:
                if line.startswith("Message-ID: "):
                    ids[line.split(": ", 1)[1].strip()] += 1
                    break
                if not line.strip():
                    break
status = json.load(open(sys.argv[2]))
print(len(ids), sum(c - 1 for c in ids.values()), len(status.get("in_doubt", [])))
PY
}

echo "kill loop: $kills SIGKILLs, $mails e-mails each ($contacts contacts), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
# serve MAILDIR: an aiosmtpd storing into MAILDIR; sets $port and $server.
serve() {
  port=$(free_port)
  python3 tests/support/smtp_server.py --port "$port" --maildir "$1" >/dev/null 2>&1 &
  server=$!
  pids+=("$server")
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do sleep 0.05; done
}

for connections in 1 8; do
  # How long a whole run takes: kills are spread over it.
  serve "$dir/timing-mail-$connections"
  work=$dir/timing-$connections
  mkdir -p "$work"
  start=$(date +%s%N)
  run "$work" "$port" "$connections"
  span_ms=$((($(date +%s%N) - start) / 1000000))
  kill "$server"
  landed=0 duplicates=0 in_doubt=0 lost=0 doubled_kills=0
  for ((k = 0; k < kills; k++)); do
    maildir=$dir/mail-$connections-$k
    serve "$maildir"
    work=$dir/trial-$connections-$k
    mkdir -p "$work"
    delay_ms=$((RANDOM % (span_ms > 0 ? span_ms : 1)))
    (cd "$work" && exec "$bin" run --program "$dir/b.flowb" --contacts "$dir/contacts.csv" \
      --now 2027-05-31T07:00:00Z --lookback 1d --smtp "127.0.0.1:$port" \
      --smtp-connections "$connections" >/dev/null 2>&1) &
    victim=$!
    sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
    kill -9 "$victim" 2>/dev/null || true
    wait "$victim" 2>/dev/null || true
    before=$( (find "$maildir" -type f 2>/dev/null || true) | wc -l)
    if [ "$before" -gt 0 ] && [ "$before" -lt "$mails" ]; then landed=$((landed + 1)); fi
    run "$work" "$port" "$connections" || true
    (cd "$work" && "$bin" status --json >"$work/status.json")
    read -r unique extra doubt < <(count "$maildir" "$work/status.json")
    duplicates=$((duplicates + extra))
    in_doubt=$((in_doubt + doubt))
    lost=$((lost + mails - unique))
    if [ "$extra" -gt 0 ]; then doubled_kills=$((doubled_kills + 1)); fi
    if [ "$extra" -gt "$doubt" ]; then echo "  trial $k: $extra duplicates but $doubt in doubt" >&2; fi
    kill "$server"
    rm -rf "$work" "$maildir"
  done
  printf '%d connection(s): %d kills (%d while sending), %d duplicates (kills that doubled a message: %d), %d reported in doubt, %d lost; a whole run takes %d ms\n' \
    "$connections" "$kills" "$landed" "$duplicates" "$doubled_kills" "$in_doubt" "$lost" "$span_ms"
done
