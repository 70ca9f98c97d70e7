#!/usr/bin/env bash
# Benchmark (not a test): `flowc check` on a generated 10,000-line flow file,
# release build. Prints the median of several runs. Target: under 50 ms.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
lines=${LINES_TO_GENERATE:-10000}
{
  echo "flow generated \"Generated\" {"
  echo "  send_at: 08:00"
  for ((i = 0; i < lines - 3; i++)); do
    case $((i % 5)) in
      0) echo "  r$i: when birthday - $((i % 300 + 1))d if country == \"FR\" and language != \"de\" send t$i" ;;
      1) echo "  r$i: on anniversary of joined as n if n % 5 == 0 or n == $((i % 40 + 1)) send t$i" ;;
      2) echo "  r$i: when 3d after t$((i - 2)) if not purchase where amount > $i since t$((i - 2)) send t$i with coupon valid 30d" ;;
      3) echo "  r$i: on purchase where product == \"p$i\" and amount >= 10 send sms t$i" ;;
      4) echo "  r$i: on no visit for 60d if tags is set and \"vip\" in tags task call for email note \"n$i\" then send t$i" ;;
    esac
  done
  echo "}"
} > "$dir/big.flow"
echo "generated $(wc -l < "$dir/big.flow") lines ($(wc -c < "$dir/big.flow") bytes)"
times=()
for run in 1 2 3 4 5 6 7; do
  start=$(date +%s%N)
  ./target/release/flowc check "$dir/big.flow" --color never >/dev/null 2>"$dir/out" || true
  end=$(date +%s%N)
  times+=($(( (end - start) / 1000 )))
done
tail -1 "$dir/out"
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
echo "flowc check, ${lines} lines: median $((sorted[3] / 1000)).$(( (sorted[3] % 1000) / 100 )) ms (min $((sorted[0] / 1000)) ms, max $((sorted[6] / 1000)) ms over 7 runs)"

# The same cost when things go wrong: 2,000 rules, each with one error, all
# rendered with their source lines.
{
  echo "flow broken {"
  for ((i = 0; i < 2000; i++)); do echo "  r$i: on birthday if languag == \"fr\" send t$i"; done
  echo "}"
} > "$dir/broken.flow"
start=$(date +%s%N)
./target/release/flowc check "$dir/broken.flow" --color never >/dev/null 2>"$dir/out" || true
end=$(date +%s%N)
echo "flowc check, 2,000 errors rendered: $(( (end - start) / 1000000 )) ms ($(tail -1 "$dir/out"))"
