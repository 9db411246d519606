"""Fuzzed MQTT commands at the running daemon: no crash, RSS before/after, a valid command still obeyed,
the volume never above audio.max_volume (on MQTT and in mpv) by any path."""
from __future__ import annotations

import json
import random
import time
from pathlib import Path

from faultkit.harness import BASE, Box, Row, wait

THINGS = ("player", "volume", "refresh", "policy", "override", "detection", "like", "dislike", "rescan",
          "nonsense", "volume/x", "")
MAX_VOLUME = 60  # config_data's audio.max_volume


def payload(rng: random.Random, thing: str) -> bytes:
    kind = rng.randrange(10)
    if kind == 0:
        return rng.randbytes(rng.randrange(1, 64))  # random bytes
    if kind == 1:
        return b"\xff\xfe" + rng.randbytes(8) + b"\xc3\x28"  # invalid UTF-8
    if kind == 2:  # big: 1 KiB - 1 MiB (rarely the top end, to keep the run short)
        size = 1024 if rng.random() < 0.5 else rng.choice((4096, 65536, 1 << 20 if rng.random() < 0.05 else 2048))
        return (rng.choice(b"9{[a\"") .to_bytes(1, "big")) * size
    if kind == 3:  # wrong JSON types
        value = rng.choice([[], {}, None, True, 1e309, "x" * 50, [1, 2], {"emotion": 5}, {"emotion": "happy",
                            "timeout": "soon"}, {"timeout": -1}, {"emotion": "happy", "timeout": True}])
        return json.dumps(value).encode()
    if kind == 4:  # out of range numbers, relative steps
        return rng.choice([b"101", b"-1", b"1e9", b"nan", b"inf", b"+999", b"-999", b"+100", b"+61", b"100",
                           b"99.5", b"0x40", b" 100 ", b"+0100"])
    if kind == 5:  # control characters
        return b"play\x00" if rng.random() < 0.5 else b"\x1b[2Jnext"
    if kind == 6:  # valid volume commands (the cap must hold)
        return str(rng.choice([0, 30, 59, 60, 61, 80, 100])).encode() if thing == "volume" else b"+5"
    return rng.choice([b"play", b"pause", b"toggle", b"next", b"stop", b"ON", b"OFF", b"happy", b"auto",
                       b"PRESS", b"", b"shuffle", b'{"emotion": "sad", "timeout": 1}'])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def rows(tmp: Path, short: bool) -> list[Row]:
    count = 1000 if short else 10000
    rng = random.Random(21)
    box = Box(tmp / "fuzz")
    out: list[Row] = []
    try:
        box.start()
        box.wait_playing()
        assert box.proc is not None
        pid = box.proc.pid
        rss_before = rss_kib(pid)
        mpv_max = 0
        retained = 0
        began = time.monotonic()
        for n in range(count):
            thing = rng.choice(THINGS)
            retain = rng.random() < 0.02
            retained += retain
            box.watcher.client.publish(f"{BASE}/{thing}/set", payload(rng, thing), qos=rng.choice((0, 1)),
                                       retain=retain)
            if n % 100 == 0:
                time.sleep(0.05)  # let the broker drain; a fuzzer faster than the box only tests the queue
                volume = box.mpv("volume")
                if isinstance(volume, (int, float)):
                    mpv_max = max(mpv_max, round(volume))
        sent_s = time.monotonic() - began
        time.sleep(3)
        alive = box.alive()
        rss_after = rss_kib(pid) if alive else 0
        out.append(Row(f"{count} fuzzed commands ({retained} retained)",
                       f"{'alive' if alive else 'CRASHED'} after {sent_s:.0f} s, RSS {rss_before // 1024} -> "
                       f"{rss_after // 1024} MiB", "no crash, RSS < +50 MiB",
                       alive and rss_after - rss_before < 50 * 1024))
        # a valid command is still obeyed
        box.publish("volume", "42")
        try:
            wait(lambda: (box.state_of("volume") or {}).get("volume") == 42, "volume 42", 15)
            wait(lambda: box.mpv("volume") == 42, "mpv at volume 42", 15)
            obeyed = True
        except TimeoutError:
            obeyed = False
        volumes = [json.loads(m.payload).get("volume") for m in box.watcher.on(f"{BASE}/volume")]
        published_max = max(v for v in volumes if isinstance(v, (int, float)))
        mpv_max = max(mpv_max, round(box.mpv("volume") or 0))
        out.append(Row("after the fuzz: volume 42", "obeyed (MQTT and mpv)" if obeyed else "NOT obeyed",
                       "obeyed", obeyed))
        out.append(Row("volume cap over the fuzz", f"max published {published_max}, max in mpv {mpv_max}",
                       f"<= {MAX_VOLUME}", published_max <= MAX_VOLUME and mpv_max <= MAX_VOLUME))
        return out + [box.log_row("fuzz")]
    finally:
        for thing in THINGS:  # clear retained commands (an empty retained message deletes them)
            box.watcher.client.publish(f"{BASE}/{thing}/set", b"", retain=True)
        box.close()
