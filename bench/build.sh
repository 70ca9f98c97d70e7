#!/usr/bin/env bash
# Benchmark (not a test): `flowc build` against `flowc check` on generated
# flow files of 1,000, 10,000 and 100,000 lines (the file of
# bench/check.sh), release build. Prints the median of 3 runs of each and
# their ratio: build should stay within 2x of check, and both linear in
# the size of the file. Then `flowc check` on one file with the same
# mistake on every line: bounded output (20 shown, the rest counted).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=$PWD/target/release/flowc
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

source bench/generate.sh

median_ms() { # command...
  local times=()
  for _ in 1 2 3; do
    local start end
    start=$(date +%s%N)
    "$@" >/dev/null 2>&1 || true
    end=$(date +%s%N)
    times+=($(((end - start) / 1000000)))
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n 2p
}

printf '%-8s %10s %10s %7s\n' lines "check ms" "build ms" ratio
for lines in 1000 10000 100000; do
  generate_flow "$lines" "$dir/big.flow"
  check=$(median_ms "$bin" check "$dir/big.flow" --color never)
  build=$(median_ms "$bin" build "$dir/big.flow" -o "$dir/big.flowb")
  printf '%-8s %10s %10s %7s\n' "$lines" "$check" "$build" \
    "$(awk -v b="$build" -v c="$check" 'BEGIN { printf "%.2f", (c > 0 ? b / c : 0) }')"
done

# 30,000 rules with the same mistake, on one line of 1.4 MB.
{
  printf 'flow broken { '
  for ((i = 0; i < 30000; i++)); do printf 'r%d: on birthday if languag == "fr" send t%d ' "$i" "$i"; done
  echo "}"
} >"$dir/one-line.flow"
start=$(date +%s%N)
"$bin" check "$dir/one-line.flow" --color never >"$dir/out" 2>&1 || true
end=$(date +%s%N)
echo "one line of $(wc -c <"$dir/one-line.flow") bytes, 30,000 errors: $(((end - start) / 1000000)) ms, $(wc -c <"$dir/out") bytes of output ($(tail -1 "$dir/out"))"
