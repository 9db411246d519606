"""Web page benchmark: the state endpoint under many live pages, slow clients and password guessing,
and what the server costs in memory.

    nice .venv/bin/python bench/web.py [--seconds 5] [--pages 1 4 50] [--runs 3]

`moodbox run` as its own process (folder camera, demo library, mpv with null audio, no MQTT), with
web.enabled: false and with the page on a free loopback port. Printed:
- state requests/s, median and p95 (2 client threads, keep-alive) while N live pages (SSE) are open
  and the volume changes every 0.5 s, and how long each change took to reach every live page;
- the page's load (/, app.js, style.css, /api/v1/state, a new connection each, as a browser) with
  no other client and with 200 connections that never finish their headers;
- state p95 while 16 clients guess the password in parallel (a second daemon with web.password);
- the daemon's RSS with the page off, on, with the most live pages open, and after the load.
Live pages and attackers connect from their own loopback addresses (127.0.0.10-12, 127.0.0.2).
Targets (issue #28): 50 live pages each get every change within 1 s; state p95 < 50 ms meanwhile and
while guessing; page load < 2 s under 200 idle connections; < 10 MB RSS added by the load.
"""
from __future__ import annotations

import argparse
import http.client
import json
import re
import selectors
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
STRANGER = "127.0.0.2"
VOLUME_EVENT = re.compile(rb'event: volume\ndata: \{"volume":(\d+)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(work: Path, web: bool, port: int, password: str | None = None) -> Path:
    (work / "cam").mkdir(parents=True, exist_ok=True)
    (work / "cam" / "room.png").write_bytes((FACES_DIR / "astronaut.png").read_bytes())
    data = {"state_dir": str(work / "state"), "camera": {"source": str(work / "cam")},
            "perception": {"models_dir": str(REPO / "models_tflite")}, "audio": {"output": "null"},
            "library": {"path": [], "demo_path": str(work / "demo")}, "gpio": {"enabled": "off"},
            "mqtt": {"enabled": False}, "web": {"enabled": web, "bind": "127.0.0.1", "port": port,
                                                "password": password}}
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
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def session(port: int) -> tuple[str, str]:
    """(cookie header, CSRF token) of a new session."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/api/v1/session")
    response = conn.getresponse()
    token = json.loads(response.read())["csrf_token"]
    cookie = (response.getheader("Set-Cookie") or "").split(";", 1)[0]
    conn.close()
    return cookie, token


def state_load(port: int, clients: int, seconds: float, source: str = "127.0.0.1") -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
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
    return latencies


class LivePages:
    """N SSE connections read by one thread; records when each volume value reached each page."""

    def __init__(self, port: int, count: int) -> None:
        self.selector = selectors.DefaultSelector()
        self.buffers: dict[socket.socket, bytes] = {}
        self.arrivals: dict[int, list[float]] = {}  # volume -> arrival times
        self.refused = 0
        for i in range(count):
            s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(f"127.0.0.{10 + i % 3}", 0))
            s.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = s.recv(4096)
                if not chunk:
                    break
                head += chunk
            if not head.startswith(b"HTTP/1.1 200"):
                self.refused += 1
                s.close()
                continue
            s.setblocking(False)
            self.buffers[s] = head.split(b"\r\n\r\n", 1)[1]
            self.selector.register(s, selectors.EVENT_READ)
        self.open = len(self.buffers)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            for key, _ in self.selector.select(0.2):
                s = key.fileobj
                try:
                    chunk = s.recv(65536)  # type: ignore[union-attr]
                except OSError:
                    chunk = b""
                now = time.monotonic()
                if not chunk:
                    self.selector.unregister(s)
                    continue
                data = self.buffers[s] + chunk  # type: ignore[index]
                end = 0
                for match in VOLUME_EVENT.finditer(data):  # the stream is chunked: match events, not lines
                    self.arrivals.setdefault(int(match.group(1)), []).append(now)
                    end = match.end()
                self.buffers[s] = data[max(end, len(data) - 4096):]  # type: ignore[index]

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for s in list(self.buffers):
            s.close()


def volume_changes(port: int, seconds: float, sent: dict[int, float]) -> None:
    cookie, token = session(port)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    stop_at, value = time.monotonic() + seconds, 10
    while time.monotonic() < stop_at:
        value = 10 + (value - 9) % 40  # 11..49, a new value each time
        sent[value] = time.monotonic()
        conn.request("POST", "/api/v1/commands/volume", json.dumps({"value": value}),
                     {"Content-Type": "application/json", "X-CSRF-Token": token, "Cookie": cookie})
        conn.getresponse().read()
        time.sleep(0.5)
    conn.close()


def page_load(port: int, timeout_s: float = 10.0) -> float:
    """ms to load the page's four parts, or inf when one does not come within timeout_s."""
    started = time.perf_counter()
    for path in ("/", "/static/app.js", "/static/style.css", "/api/v1/state"):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            conn.close()
        except OSError:
            return float("inf")
        if response.status != 200:
            raise RuntimeError(f"{path} answered {response.status}")
    return (time.perf_counter() - started) * 1000


def page_render(port: int, runs: int = 3) -> dict[str, float] | None:
    """The page in headless Chromium (a phone's size): first contentful paint, the state shown
    (body[data-ready]), controls usable (the session loaded), and the bytes it transferred; medians."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    rows: list[dict[str, float]] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless=new", "--no-sandbox"])
        for _ in range(runs):
            context = browser.new_context(viewport={"width": 390, "height": 844})
            page = context.new_page()
            started = time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("body[data-ready='1']")
            ready = (time.perf_counter() - started) * 1000
            page.wait_for_selector("#link.live", timeout=30000)
            interactive = (time.perf_counter() - started) * 1000
            timing = page.evaluate("""() => ({
                fcp: (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime || 0,
                bytes: performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
                       .reduce((sum, e) => sum + (e.transferSize || 0), 0)})""")
            rows.append({"fcp": timing["fcp"], "ready": ready, "interactive": interactive, "bytes": timing["bytes"]})
            context.close()
        browser.close()
    return {key: statistics.median(r[key] for r in rows) for key in rows[0]}


def idle_connections(port: int, count: int) -> list[socket.socket]:
    opened = []
    for _ in range(count):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(STRANGER, 0))
            s.sendall(b"GET /api/v1/state HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            opened.append(s)
        except OSError:
            break
    return opened


def guessing(port: int, seconds: float, clients: int) -> list[float]:
    """State latencies from the owner while `clients` addresses' worth of threads guess the password."""
    stop_at = time.monotonic() + seconds
    answers: dict[int, int] = {}

    def guess() -> None:
        cookie, token = session(port)
        body = json.dumps({"password": "wrong"})
        while time.monotonic() < stop_at:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=(STRANGER, 0))
            conn.request("POST", "/api/v1/login", body,
                         {"Content-Type": "application/json", "X-CSRF-Token": token, "Cookie": cookie})
            status = conn.getresponse().status
            answers[status] = answers.get(status, 0) + 1
            conn.close()

    threads = [threading.Thread(target=guess, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    latencies = state_load(port, 2, seconds - 1)
    for thread in threads:
        thread.join(60)
    print(f"  login answers while guessing: {dict(sorted(answers.items()))}")
    return latencies


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--pages", type=int, nargs="+", default=[1, 4, 50])
    ap.add_argument("--runs", type=int, default=3, help="daemon starts per setting for the memory figure")
    ap.add_argument("--settle", type=float, default=10.0, help="seconds of play before RSS is read")
    args = ap.parse_args()
    print(f"machine: {machine()}")
    rss: dict[str, list[float]] = {"off": [], "on": [], f"with {max(args.pages)} live pages": [], "after the load": []}
    rows, loads, guess_rows = [], [], []
    for run in range(args.runs):
        for web in (False, True):
            with tempfile.TemporaryDirectory(prefix="moodbox-bench-web-") as tmp:
                port = free_port()
                proc = start_daemon(write_config(Path(tmp), web, port))
                try:
                    wait_playing(proc, args.settle)
                    rss["on" if web else "off"].append(resident_memory_mb(proc.pid) or float("nan"))
                    if not web:
                        continue
                    wait_port(port)
                    for count in args.pages:
                        pages = LivePages(port, count)
                        sent: dict[int, float] = {}
                        changer = threading.Thread(target=volume_changes, args=(port, args.seconds, sent))
                        changer.start()
                        latencies = state_load(port, 2, args.seconds)
                        changer.join()
                        time.sleep(1.0)
                        if count == max(args.pages):
                            rss[f"with {max(args.pages)} live pages"].append(resident_memory_mb(proc.pid) or float("nan"))
                        pages.close()
                        delays = [(t - sent[v]) * 1000 for v, times in pages.arrivals.items() if v in sent for t in times]
                        expected = len(sent) * pages.open
                        if run == 0:
                            rows.append((count, pages.open, pages.refused, len(latencies) / args.seconds,
                                         statistics.median(latencies), pct(latencies, 0.95),
                                         pct(delays, 0.95), max(delays, default=float("nan")), expected - len(delays)))
                    if run == 0:
                        render = page_render(port)
                        quiet = statistics.median(page_load(port) for _ in range(5))
                        idle = idle_connections(port, 200)
                        busy = statistics.median(page_load(port) for _ in range(3))
                        loads.append((len(idle), quiet, busy, render))
                        for s in idle:
                            s.close()
                    time.sleep(1.0)
                    rss["after the load"].append(resident_memory_mb(proc.pid) or float("nan"))
                finally:
                    stop(proc)
    with tempfile.TemporaryDirectory(prefix="moodbox-bench-web-") as tmp:
        port = free_port()
        proc = start_daemon(write_config(Path(tmp), True, port, password="right"))
        try:
            wait_playing(proc, args.settle)
            wait_port(port)
            calm = state_load(port, 2, args.seconds)
            busy = guessing(port, args.seconds + 1, 16)
            guess_rows = [("no guessing", calm), ("16 parallel wrong passwords", busy)]
        finally:
            stop(proc)

    print(f"\nGET /api/v1/state (2 client threads, {args.seconds:g} s) while N live pages are open and the volume "
          "changes every 0.5 s")
    print("| live pages | open | refused | state req/s | median ms | p95 ms | change->page p95 ms | max ms | missed |")
    print("|---|---|---|---|---|---|---|---|---|")
    for count, opened, refused, rate, median, p95, d95, dmax, missed in rows:
        print(f"| {count} | {opened} | {refused} | {rate:.0f} | {median:.1f} | {p95:.1f} | {d95:.0f} | {dmax:.0f} | "
              f"{missed} |")
    print("\npage load (/, app.js, style.css, /api/v1/state; new connection each), median of 5 (3 under load)")
    for idle, quiet, busy, render in loads:
        print(f"| no other client | {quiet:.0f} ms |\n| {idle} connections that never finish their headers | "
              f"{'no answer within 10 s' if busy == float('inf') else f'{busy:.0f} ms'} |")
        if render:
            print(f"\nthe page in headless Chromium (390x844, median of 3): first contentful paint {render['fcp']:.0f} ms, "
                  f"state shown {render['ready']:.0f} ms, live {render['interactive']:.0f} ms, "
                  f"{render['bytes'] / 1024:.1f} KiB transferred")
    print(f"\nGET /api/v1/state with web.password set ({args.seconds:g} s, 2 threads)")
    print("| meanwhile | requests | median ms | p95 ms |")
    print("|---|---|---|---|")
    for name, values in guess_rows:
        print(f"| {name} | {len(values)} | {statistics.median(values):.1f} | {pct(values, 0.95):.1f} |")
    off = statistics.median(rss["off"])
    on = statistics.median(rss["on"])
    print(f"\ndaemon RSS, median of {args.runs} starts, after {args.settle:g} s of play")
    print("| web page | RSS MB | vs off | vs on |")
    print("|---|---|---|---|")
    for name, values in rss.items():
        value = statistics.median(values)
        print(f"| {name} | {value:.1f} | {value - off:+.1f} | {value - on:+.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
