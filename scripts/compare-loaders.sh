#!/usr/bin/env bash
# Is `soc_client bench` a load generator you can trust? Drives one soc_server alternately with
# the reference loader (../shared/bench/echoload) and with `soc_client bench`, same workload,
# ROUNDS times; if both report the same rate, the generator is not what limits the numbers.
#
#   scripts/compare-loaders.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-common.sh
rounds="${1:-3}"
cargo build --release --quiet
ensure_echoload
start_soc_server
trap 'kill "$SERVER_PID"' EXIT
echo "| round | connections x size | echoload rt/s | soc_client bench rt/s | ratio |"
echo "|---|---|---|---|---|"
for round in $(seq "$rounds"); do
    for conns in 1 50; do
        e=$("$ECHOLOAD" pingpong --addr "127.0.0.1:$PORT" --conns "$conns" --size 64 \
                --duration 3 --warmup 1 2>/dev/null \
            | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["rps"]))')
        s=$(target/release/soc_client --port "$PORT" bench -c "$conns" -s 64 -d 3 --warmup 1 --json \
            | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["round_trips_per_sec"]))')
        echo "| $round | ${conns} x 64 B | $e | $s | $(python3 -c "print(f'{$s/$e:.2f}')") |"
    done
done
