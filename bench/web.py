"""Web page benchmark: how fast the state endpoint answers, and what the server costs in memory.

    nice .venv/bin/python bench/web.py [--seconds 5] [--clients 1 4] [--runs 3]

`moodbox run` as its own process (folder camera, demo library, mpv with null audio, no MQTT), once with
web.enabled: false and once with the page on a free loopback port; VmRSS of the daemon after it has
played for a few seconds, and for the second run again after the load (median of --runs each).
Load: N client threads, each with one keep-alive connection, GET /api/v1/state in a loop for
--seconds; requests/s and latency percentiles. Targets (issue #19): < 15 MB extra RSS, state < 20 ms.
"""
from __future__ import annotations

import argparse
import http.client
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

from moodbox.core import FACES_DIR, resident_memory_mb
from benchlib import child_pids, machine, process_name

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(work: Path, web: bool, port: int) -> Path:
    (work / "cam").mkdir(parents=True, exist_ok=True)
    (work / "cam" / "room.png").write_bytes((FACES_DIR / "astronaut.png").read_bytes())
    data = {"state_dir": str(work / "state"), "camera": {"source": str(work / "cam")},
            "perception": {"models_dir": str(REPO / "models_tflite")}, "audio": {"output": "null"},
            "library": {"path": [], "demo_path": str(work / "demo")}, "gpio": {"enabled": "off"},
            "mqtt": {"enabled": False}, "web": {"enabled": web, "bind": "127.0.0.1", "port": port}}
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def start_daemon(config: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "moodbox.cli", "run", "--config", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_playing(proc: subprocess.Popen, settle_s: float) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if any(process_name(pid) == "mpv" for pid in child_pids(proc.pid)):
            time.sleep(settle_s)
            return
        time.sleep(0.5)
    raise TimeoutError("the daemon did not start mpv within 120 s")


def load(port: int, clients: int, seconds: float) -> tuple[int, list[float]]:
    latencies: list[float] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine = []
        while time.monotonic() < stop_at:
            t = time.perf_counter()
            conn.request("GET", "/api/v1/state")
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"state answered {response.status}")
            mine.append((time.perf_counter() - t) * 1000)
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(latencies), latencies


def wait_port(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listens on {port}")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--runs", type=int, default=3, help="daemon starts per setting for the memory figure")
    ap.add_argument("--settle", type=float, default=5.0, help="seconds of play before RSS is read")
    args = ap.parse_args()
    print(f"machine: {machine()}")
    rss: dict[str, list[float]] = {"off": [], "on": [], "on, after load": []}
    rows = []
    for run in range(args.runs):
        for web in (False, True):
            with tempfile.TemporaryDirectory(prefix="moodbox-bench-web-") as tmp:
                port = free_port()
                proc = start_daemon(write_config(Path(tmp), web, port))
                try:
                    wait_playing(proc, args.settle)
                    rss["on" if web else "off"].append(resident_memory_mb(proc.pid) or float("nan"))
                    if web:
                        wait_port(port)
                        for clients in args.clients:
                            count, latencies = load(port, clients, args.seconds)
                            if run == 0:
                                rows.append((clients, count / args.seconds, statistics.median(latencies),
                                             pct(latencies, 0.95), max(latencies)))
                        rss["on, after load"].append(resident_memory_mb(proc.pid) or float("nan"))
                finally:
                    stop(proc)
    print(f"\nGET /api/v1/state, {args.seconds:g} s per row (one daemon, first run)")
    print("| clients | requests/s | median ms | p95 ms | max ms |")
    print("|---|---|---|---|---|")
    for clients, rate, median, p95, top in rows:
        print(f"| {clients} | {rate:.0f} | {median:.1f} | {p95:.1f} | {top:.1f} |")
    off = statistics.median(rss["off"])
    print(f"\ndaemon RSS, median of {args.runs} starts, after {args.settle:g} s of play")
    print("| web page | RSS MB | extra MB |")
    print("|---|---|---|")
    for name, values in rss.items():
        value = statistics.median(values)
        print(f"| {name} | {value:.1f} | {value - off:+.1f} |")
    target_ok = statistics.median(rss["on, after load"]) - off < 15 and all(r[2] < 20 for r in rows)
    print(f"\ntargets (< 15 MB extra, median state < 20 ms): {'met' if target_ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
