#!/usr/bin/env bash
# Benchmark (not a test): `flowc run` delivering N SMS (default 5,000),
# release build, three ways: to the JSON Lines outbox (one fsync per line),
# again the next day into a file that already holds N lines (the run reads
# and indexes it once), and as signed POSTs to a local Python HTTP/1.1
# server (one kept-alive connection). Prints wall time and sends per second.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
flowc=$PWD/target/release/flowc
dir=$(mktemp -d)
server_pid=
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$dir"' EXIT
n=${CONTACTS:-5000}

mkdir -p "$dir/templates"
cat > "$dir/flow.toml" <<'EOF'
[project]
default_zone = "UTC"
[contact]
id = "text"
phone = "phone"
birthday = { type = "date", yearly = true }
EOF
printf 'title: "Bench"\nsend_at: 09:00\n\non birthday send sms greet\n' > "$dir/b.flow"
printf 'Happy birthday {{ id }}!' > "$dir/templates/greet.sms.txt"
{
  echo "id,phone,birthday"
  for ((i = 0; i < n; i++)); do
    printf 'a%d,+3360%07d,1990-06-15\nb%d,+3361%07d,1990-06-16\n' "$i" "$i" "$i" "$i"
  done
} > "$dir/contacts.csv"
"$flowc" build "$dir" -o "$dir/p.flowb" > /dev/null

# $1 label, $2 state/outbox suffix, $3 --now, rest: env assignments
timed_run() {
  local label=$1 name=$2 now=$3
  shift 3
  local start end ms
  start=$(date +%s%N)
  env "$@" "$flowc" run --program "$dir/p.flowb" --contacts "$dir/contacts.csv" \
    --state "$dir/$name.db" --outbox "$dir/$name-outbox" --now "$now" --lookback 1d > "$dir/out" 2>&1
  end=$(date +%s%N)
  ms=$(( (end - start) / 1000000 ))
  grep -o '[0-9]* delivered' "$dir/out" | head -1 | {
    read -r delivered _
    echo "$label: $delivered sent in $ms ms ($(( delivered * 1000 / (ms > 0 ? ms : 1) )) /s)"
  }
}

timed_run "JSON Lines, new file        " jsonl 2027-06-15T12:00:00Z
timed_run "JSON Lines, $n lines there " jsonl 2027-06-16T12:00:00Z
echo "  ($(wc -l < "$dir/jsonl-outbox/sms.jsonl") lines, $(wc -c < "$dir/jsonl-outbox/sms.jsonl") bytes)"

cat > "$dir/server.py" <<'EOF'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
EOF
python3 "$dir/server.py" > "$dir/port" &
server_pid=$!
for _ in $(seq 50); do [ -s "$dir/port" ] && break; sleep 0.1; done
port=$(cat "$dir/port")
timed_run "signed POST, loopback      " http 2027-06-15T12:00:00Z \
  FLOWC_SMS_URL="http://127.0.0.1:$port/sms" FLOWC_WEBHOOK_SECRET=bench
