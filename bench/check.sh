#!/usr/bin/env bash
# Benchmark (not a test): `flowc check` on a generated 10,000-line flow file,
# release build. Prints the median of several runs. Target: under 50 ms.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
lines=${LINES_TO_GENERATE:-10000}
source bench/generate.sh
generate_flow "$lines" "$dir/big.flow"
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
