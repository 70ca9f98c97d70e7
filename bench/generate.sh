# The generated flow file of the benchmarks: `generate_flow LINES FILE`,
# one flow of LINES - 3 rules of five shapes (dates, anniversaries,
# follow-ups with history tests, events, inactivity with tasks).
generate_flow() {
  {
    echo "flow generated \"Generated\" {"
    echo "  send_at: 08:00"
    for ((i = 0; i < $1 - 3; i++)); do
      case $((i % 5)) in
        0) echo "  r$i: when birthday - $((i % 300 + 1))d if country == \"FR\" and language != \"de\" send t$i" ;;
        1) echo "  r$i: on anniversary of joined as n if n % 5 == 0 or n == $((i % 40 + 1)) send t$i" ;;
        2) echo "  r$i: when 3d after t$((i - 2)) if not purchase where amount > $i since t$((i - 2)) send t$i with coupon valid 30d" ;;
        3) echo "  r$i: on purchase where product == \"p$i\" and amount >= 10 send sms t$i" ;;
        4) echo "  r$i: on no visit for 60d if tags is set and \"vip\" in tags task call for email note \"n$i\" then send t$i" ;;
      esac
    done
    echo "}"
  } >"$2"
}
