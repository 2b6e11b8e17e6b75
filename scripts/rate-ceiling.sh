#!/usr/bin/env bash
# How fast can `soc_client bench --rate` go and still keep its own schedule? Against one release
# soc_server on this machine, for 1 and 2 event-loop threads, ramps the rate and prints, per
# step, the rates sent and echoed and the generator's own lateness; the ceiling is the highest
# rate that, with every step below it, was echoed at 99 % or more with the generator's p99
# lateness under 1 ms.
#
#   scripts/rate-ceiling.sh [CONNECTIONS] [SECONDS]      (defaults: 50 connections, 3 s a step)
#   PIN=1 scripts/rate-ceiling.sh                        the server on CPU 1, the generator on 0
#   UDP=1 scripts/rate-ceiling.sh 10                     bench -u --rate against soc_server -u
#
# Needs only this repository, Rust and python3 (to read the JSON); PIN=1 needs taskset (Linux).
# Unpinned, the server and the generator share the machine's cores: a woken generator can wait
# for a core behind the server's threads, and that wait is its lateness.
set -euo pipefail
cd "$(dirname "$0")/.."
connections=${1:-50}
seconds=${2:-3}
cargo build --release --quiet
out=$(mktemp)
reader=$(mktemp)
cat >"$reader" <<'EOF'
import json, sys
r = json.load(sys.stdin)
late = r["generator_lateness_ms"]
holds = r["echoed_rate"] >= 0.99 * r["asked_rate"] and late["p99"] < 1.0
print("%.0f | %.0f | %.3f ms | %.3f ms | %.3f ms | %.3f ms | %s" % (
    r["sent_rate"], r["echoed_rate"], late["p50"], late["p99"], late["max"],
    (r["latency_ms"] or {"p99": float("nan")})["p99"], "yes" if holds else "no"))
EOF
pin_server=() pin_client=()
if [[ "${PIN:-0}" == 1 ]]; then pin_server=(taskset -c 1) pin_client=(taskset -c 0); fi
udp=()
if [[ "${UDP:-0}" == 1 ]]; then udp=(-u); fi
"${pin_server[@]}" target/release/soc_server --port 0 -q --max-clients 10000 "${udp[@]}" >"$out" &
server=$!
trap 'kill "$server" 2>/dev/null; rm -f "$out" "$reader"' EXIT
for _ in $(seq 100); do grep -q '^listening on' "$out" && break; sleep 0.05; done
port=$(sed -n 's/^listening on [0-9].*://p' "$out")
[[ -n "$port" ]] || { echo "soc_server did not start" >&2; exit 1; }

echo "| threads | asked/s | sent/s | echoed/s | lateness p50 | p99 | max | latency p99 | holds |"
echo "|---|---|---|---|---|---|---|---|---|"
for threads in 1 2; do
    ceiling=0 holding=1
    for rate in 10000 20000 40000 60000 80000 100000 120000 150000; do
        # A run that fails its verdict (exit 1) still reports; read it either way.
        json=$("${pin_client[@]}" target/release/soc_client --port "$port" bench "${udp[@]}" --rate "$rate" -c "$connections" \
                -t "$threads" -d "$seconds" --warmup 1 --json 2>/dev/null || true)
        line=$(python3 "$reader" <<<"$json" 2>/dev/null) || line="(no report) | | | | | | no"
        echo "| $threads | $rate | $line |"
        if [[ $holding == 1 && "$line" == *"| yes" ]]; then ceiling=$rate; else holding=0; fi
    done
    echo "threads $threads: the highest rate held is $ceiling/s" >&2
done
