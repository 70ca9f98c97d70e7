# Sourced by the SMTP benchmarks (smtp.sh, kill.sh): a release build in
# $bin, a temporary $dir removed at exit (with the servers whose pids are in
# $pids), $contacts generated contacts in Paris whose birthday offers
# ($mails e-mails, one each) are due on 31 May 2027 at 06:00 UTC, the birthday
# example built into $dir/b.flowb, and free_port.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release --quiet
bin=$PWD/target/release/flowc
contacts=$mails # one offer per generated contact
dir=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT

{
  echo "id,email,first_name,time_zone,birthday,email_optin"
  for ((i = 0; i < contacts; i++)); do
    printf 'p%05d,p%05d@example.com,P%d,Europe/Paris,1990-06-15,true\n' "$i" "$i" "$i"
  done
} >"$dir/contacts.csv"
"$bin" build examples/birthday -o "$dir/b.flowb" >/dev/null 2>&1

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
