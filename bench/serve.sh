#!/usr/bin/env bash
# `flowc serve` under load, measured by wrk (Debian's `wrk`) on loopback:
# requests per second and latency percentiles for the click redirect
# (`GET /c/TOKEN`: verify the token, find the send, record the click once,
# answer 302) and for `POST /events` (a replayed event: read, resolve,
# answer "known"), with the state on SQLite. The issue's target: 5,000
# redirects/s with p99 under 20 ms on a 2-core machine. Then first clicks:
# each request a link of another message, so each records a new event
# (one SQLite commit each) — the write path's figure.
#
#   bash bench/serve.sh            # 10 s per route, 2 threads, 32 connections
#   SECONDS_PER_ROUTE=30 CONNECTIONS=64 bash bench/serve.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }
duration=${SECONDS_PER_ROUTE:-10}
connections=${CONNECTIONS:-32}
cargo build --release --quiet
bin=$PWD/target/release/flowc
dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

mkdir -p "$dir/templates"
cat >"$dir/flow.toml" <<'TOML'
[project]
default_zone = "Europe/Paris"
[contact]
id = "text"
email = "email"
birthday = { type = "date", yearly = true }
TOML
echo 'when birthday - 3d send hello' >"$dir/b.flow"
cat >"$dir/templates/hello.email.html" <<'HTML'
+++
subject = "Hello"
[links]
shop = "https://shop.example/sale"
+++
<p><a href="{{ links.shop }}">Shop</a> <a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
HTML
{
  echo "id,email,birthday"
  for ((i = 0; i < ${CONTACTS:-40000}; i++)); do printf 'c%05d,c%05d@example.com,1990-06-15\n' "$i" "$i"; done
} >"$dir/contacts.csv"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
token=bench-events-token-0123456789
(cd "$dir" && FLOWC_EVENTS_TOKEN=$token "$bin" serve --program . --listen "127.0.0.1:$port" >/dev/null 2>"$dir/serve.log") &
pid=$!
(cd "$dir" && "$bin" run --program . --contacts contacts.csv --now 2027-06-12T06:00:00Z \
  --lookback 1h --public-url "$base" >/dev/null 2>&1)
for _ in $(seq 50); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
files=("$dir"/outbox/*.eml)
first=${files[0]}
click=$(tr -d '\r' <"$first" | sed -e ':a;/=$/{N;s/=\n//;ba}' | grep -o "$base/c/[A-Za-z0-9_-]*" | head -1 || true)
[ -n "$click" ] || { echo "no tracked link in the outbox" >&2; exit 1; }

report() { # name, wrk output
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$2")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$2")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$2")
  printf '%-28s %10s req/s   p50 %8s   p99 %8s\n' "$1" "$rps" "$p50" "$p99"
}
echo "flowc serve, $connections connections, 2 wrk threads, ${duration}s per route, state on SQLite"
report "GET /c/TOKEN (302)" "$(wrk -t2 -c"$connections" -d"${duration}s" --latency "$click")"
report "GET /healthz" "$(wrk -t2 -c"$connections" -d"${duration}s" --latency "$base/healthz")"
cat >"$dir/events.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"id": "bench-1", "contact": "c0001", "type": "unsubscribed", "at": "2027-06-01T10:00:00Z"}'
wrk.headers["Content-Type"] = "application/x-ndjson"
wrk.headers["Authorization"] = "Bearer $token"
LUA
report "POST /events (replayed)" "$(wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$dir/events.lua" "$base/events")"

# Every message's tracked link, as paths; each wrk thread walks its own
# half, so every request is a first click until a half is used up (the
# count of clicks recorded is printed, to see that it was not).
python3 - "$dir/outbox" "$base" >"$dir/clicks.txt" <<'PY'
import os, re, sys
outbox, base = sys.argv[1], sys.argv[2]
link = re.compile(re.escape(base) + r"(/c/[A-Za-z0-9_-]+)")
for name in sorted(os.listdir(outbox)):
    # Quoted-printable: soft line breaks joined, `=3D` read as `=`.
    text = open(os.path.join(outbox, name)).read().replace("=\r\n", "").replace("=\n", "")
    found = link.search(text)
    if found:
        print(found.group(1))
PY
cat >"$dir/first.lua" <<LUA
local paths = {}
for line in io.lines("$dir/clicks.txt") do paths[#paths + 1] = line end
local threads = 0
function setup(thread) thread:set("id", threads); threads = threads + 1 end
local i = 0
function init() i = id * math.floor(#paths / 2) end
function request() i = i + 1; return wrk.format("GET", paths[(i % #paths) + 1]) end
LUA
first_seconds=${FIRST_CLICK_SECONDS:-3}
report "GET /c/TOKEN (first clicks)" "$(wrk -t2 -c"$connections" -d"${first_seconds}s" --latency -s "$dir/first.lua" "$base")"
clicks=$(python3 - "$dir/flow.db" <<'PY'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM events WHERE kind = 'clicked'").fetchone()[0])
PY
)
echo "  clicks recorded: $clicks (of $(wc -l <"$dir/clicks.txt") messages; the first benchmark's one link included)"
