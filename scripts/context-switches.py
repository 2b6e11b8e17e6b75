#!/usr/bin/env python3
"""Why tokio is ahead on many connections: context switches per round trip.

Runs echoload's 50 x 64 B ping-pong against soc_server, the C thread-per-connection server and
the tokio server (the last two as built by ../shared/bench/compare.py), and samples the server's
context switches (all its threads, from /proc) over 2.5 s of the run.

    python3 scripts/context-switches.py
"""
import glob
import json
import os
import pathlib
import socket
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "bench"
BUILD = pathlib.Path(os.environ.get("SOC_BENCH_BUILD") or (
    SHARED / "build" if os.access(SHARED, os.W_OK) else pathlib.Path.home() / ".cache" / "soc-bench"))
ECHOLOAD = BUILD / "echoload-target" / "release" / "echoload"
SERVERS = [
    ("soc_server", [str(ROOT / "target/release/soc_server"), "--port", "{port}", "-q"]),
    ("C threads", [str(BUILD / "c_threaded_echo"), "{port}"]),
    ("tokio", [str(BUILD / "tokio-target/release/tokio_echo"), "{port}"]),
]


def switches(pid):
    voluntary = involuntary = 0
    for path in glob.glob(f"/proc/{pid}/task/*/status"):
        try:
            for line in open(path):
                if line.startswith("voluntary_ctxt_switches"):
                    voluntary += int(line.split()[1])
                elif line.startswith("nonvoluntary_ctxt_switches"):
                    involuntary += int(line.split()[1])
        except FileNotFoundError:  # a thread that just ended
            pass
    return voluntary, involuntary


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, limit=5.0):
    deadline = time.time() + limit
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listening on port {port}")


def main():
    missing = [str(p) for p in [ECHOLOAD] if not p.exists()]
    if missing:
        sys.exit(f"build the shared bench first (python3 {SHARED}/compare.py --quick): {missing}")
    print("| server | rt/s | p99 | voluntary switches per round trip | involuntary |")
    print("|---|---|---|---|---|")
    for name, command in SERVERS:
        if not pathlib.Path(command[0]).exists():
            print(f"| {name} | not built | | | |")
            continue
        port = free_port()
        server = subprocess.Popen([c.replace("{port}", str(port)) for c in command],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_listening(port)
            load = subprocess.Popen([str(ECHOLOAD), "pingpong", "--addr", f"127.0.0.1:{port}",
                                     "--conns", "50", "--size", "64", "--duration", "4",
                                     "--warmup", "0.5"],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            time.sleep(1.5)
            before, started = switches(server.pid), time.time()
            time.sleep(2.5)
            after, ended = switches(server.pid), time.time()
            result = json.loads(load.communicate(timeout=30)[0])
        finally:
            server.kill()  # by PID: only the server this script started
            server.wait()
        trips = result["rps"] * (ended - started)
        print(f"| {name} | {result['rps']:.0f} | {result['p99_us'] / 1000:.1f} ms | "
              f"{(after[0] - before[0]) / trips:.2f} | {(after[1] - before[1]) / trips:.3f} |")


if __name__ == "__main__":
    main()
