#!/usr/bin/env bash
# Benchmark (not a test): `flowc run` delivering MAILS e-mails (default 2000)
# over SMTP with 1, 2, 4 and 8 connections, to a local aiosmtpd sink (Python,
# one thread) and, when installed, to postfix's smtp-sink (C). Release build;
# prints messages per second (the whole run: compile, evaluation, state
# writes and delivery; median of RUNS=3), with the folder outbox as the
# baseline. The machine's load shows in the figures: compare within a run.
set -euo pipefail
mails=${MAILS:-2000}
# shellcheck source=bench/offers.sh
source "$(dirname "$0")/offers.sh"

runs=${RUNS:-3}

# $runs timed runs, each in a fresh state; prints the median in messages/s.
measure() {
  local label=$1; shift
  local times=() delivered=0
  for ((r = 0; r < runs; r++)); do
    local work=$dir/run-$RANDOM-$r
    mkdir -p "$work"
    local start end out
    start=$(date +%s%N)
    out=$(cd "$work" && "$bin" run --program "$dir/b.flowb" --contacts "$dir/contacts.csv" \
          --now 2027-05-31T07:00:00Z --lookback 1d "$@" 2>"$work/stderr")
    end=$(date +%s%N)
    delivered=$(sed -n 's/.* \([0-9]*\) delivered .*/\1/p' <<<"$out")
    if [ "$delivered" != "$mails" ]; then head -3 "$work/stderr" >&2; fi
    times+=($(((end - start) / 1000000)))
  done
  local ms
  ms=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p")
  printf '%-32s %5s delivered, median %6d ms: %6d msg/s\n' "$label" "$delivered" "$ms" $((delivered * 1000 / (ms > 0 ? ms : 1)))
}

echo "flowc run, $mails e-mails ($contacts contacts), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
measure "folder outbox (no SMTP)"

port=$(free_port)
python3 tests/support/smtp_server.py --port "$port" --sink >/dev/null 2>&1 &
pids+=($!)
until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do sleep 0.1; done
for n in 1 2 4 8; do
  measure "aiosmtpd sink, $n connection(s)" --smtp "127.0.0.1:$port" --smtp-connections "$n"
done

if [ -x /usr/sbin/smtp-sink ]; then
  port=$(free_port)
  user=(); [ "$(id -u)" = 0 ] && user=(-u nobody)
  /usr/sbin/smtp-sink "${user[@]}" "127.0.0.1:$port" 64 &
  pids+=($!)
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do sleep 0.1; done
  for n in 1 2 4 8; do
    measure "smtp-sink, $n connection(s)" --smtp "127.0.0.1:$port" --smtp-connections "$n"
  done
fi
