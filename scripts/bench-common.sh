# Shared by the scripts in this folder: where ../shared/bench builds its tools.
# shellcheck shell=bash
SHARED_BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../shared/bench" 2>/dev/null && pwd || true)"
if [[ -z "$SHARED_BENCH" ]]; then
    echo "../shared/bench not found beside this checkout" >&2
    exit 1
fi
# compare.py's own rule: $SOC_BENCH_BUILD, else build/ beside it when writable, else the cache.
if [[ -n "${SOC_BENCH_BUILD:-}" ]]; then
    BENCH_BUILD="$SOC_BENCH_BUILD"
elif [[ -w "$SHARED_BENCH" ]]; then
    BENCH_BUILD="$SHARED_BENCH/build"
else
    BENCH_BUILD="$HOME/.cache/soc-bench"
fi
ECHOLOAD="$BENCH_BUILD/echoload-target/release/echoload"

# Builds echoload the way compare.py does, if it is not there yet.
ensure_echoload() {
    if [[ ! -x "$ECHOLOAD" ]]; then
        cargo build --release --quiet --manifest-path "$SHARED_BENCH/echoload/Cargo.toml" \
            --target-dir "$BENCH_BUILD/echoload-target"
    fi
}

# Starts target/release/soc_server on an OS-chosen port; sets SERVER_PID and PORT.
start_soc_server() {
    local out
    out="$(mktemp)"
    target/release/soc_server --port 0 -q --max-clients 10000 >"$out" &
    SERVER_PID=$!
    for _ in $(seq 100); do
        grep -q '^listening on' "$out" && break
        sleep 0.05
    done
    PORT="$(sed -n 's/^listening on .*://p' "$out")"
    rm -f "$out"
    [[ -n "$PORT" ]] || { echo "soc_server did not start" >&2; exit 1; }
}
