"""Crash test: kill -9 the server while 8 clients write, 20 rounds.

After each restart every acknowledged write must be readable and intact.
An acknowledged write is one that got a 200 before the kill.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import httpx
import pytest
from tests.support.server import free_port, start_server

ROOT = "strongroom_test_root_token"
ROUNDS = 20
WRITERS = 8

pytestmark = pytest.mark.slow


def test_kill_9_loses_no_acknowledged_write(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    acknowledged: dict[str, str] = {}
    lock = threading.Lock()
    rng = random.Random(1234)
    for rnd in range(ROUNDS):
        server = start_server(data_dir, port=port)
        with httpx.Client(base_url=server.url, headers={"X-Strongroom-Token": ROOT}) as c:
            # Everything acknowledged in earlier rounds survived the kill.
            for path, value in acknowledged.items():
                r = c.get(f"/v1/secret/data/{path}")
                assert r.status_code == 200, (rnd, path, r.text)
                assert r.json()["data"]["data"] == {"v": value}, (rnd, path)
        stop = threading.Event()

        def writer(n: int, rnd: int = rnd) -> None:
            i = 0
            with httpx.Client(
                base_url=server.url, headers={"X-Strongroom-Token": ROOT}, timeout=5
            ) as c:
                while not stop.is_set():
                    path, value = f"r{rnd}/w{n}/{i}", f"{rnd}-{n}-{i}-" + "x" * 64
                    try:
                        r = c.put(f"/v1/secret/data/{path}", json={"data": {"v": value}})
                    except httpx.HTTPError:
                        return
                    if r.status_code == 200:
                        with lock:
                            acknowledged[path] = value
                    i += 1

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.4, 1.2))
        server.stop(kill=True)
        stop.set()
        for t in threads:
            t.join()
    assert len(acknowledged) > ROUNDS * WRITERS
    server = start_server(data_dir, port=port)
    try:
        with httpx.Client(base_url=server.url, headers={"X-Strongroom-Token": ROOT}) as c:
            for path, value in acknowledged.items():
                r = c.get(f"/v1/secret/data/{path}")
                assert r.status_code == 200 and r.json()["data"]["data"] == {"v": value}
    finally:
        server.stop()
