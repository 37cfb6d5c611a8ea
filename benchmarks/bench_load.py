"""Load benchmark: N simulated users x M turns through Session, SQLite and Redis stores, 1 and 2 processes.

Every user has their own conversation; each worker process loads the bundled knowledge,
opens the store and, after all workers are ready, sends every user's turns round-robin
(user 1 turn 1, user 2 turn 1, ...), so conversations interleave as they do in a live bot.
With two processes the users are split between them. Messages are the realistic mix of
bench_engine.py (examples, typos, follow-ups, red flags, off-topic).

Printed per run: turns per second (all processes together, wall clock), p50/p99 latency
of Session.handle (lock, load, engine step, save), and memory per stored conversation:
the stored JSON, and the store's footprint (SQLite: file bytes; Redis: used_memory and
redis-server RSS delta) divided by the number of conversations.

    python benchmarks/bench_load.py [--users 200] [--turns 10] [--skip-redis]

The Redis runs start their own redis-server on 127.0.0.1 (skipped if it is not installed).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def worker(url: str, users: list[int], turns: int, start, results) -> None:
    from bench_engine import realistic_messages

    from dialogue.engine import Engine, EngineOptions
    from dialogue.loader import load_knowledge
    from dialogue.replies import Incoming
    from dialogue.session import Session
    from dialogue.storage import open_store

    knowledge = load_knowledge()
    messages = realistic_messages(knowledge, len(users) * turns + 300)
    session = Session(Engine(knowledge, EngineOptions()), open_store(url))
    for i in range(300):  # warm-up (caches), on conversations not counted
        session.handle(f"warmup-{os.getpid()}-{i % 20}", Incoming(text=messages[-1 - i]))
    for i in range(20):
        session.forget(f"warmup-{os.getpid()}-{i}")
    times: list[float] = []
    apologies = 0
    start.wait(120)
    began = time.perf_counter()
    k = 0
    for _ in range(turns):
        for u in users:
            t0 = time.perf_counter()
            replies = session.handle(f"user-{u}", Incoming(text=messages[k]))
            times.append((time.perf_counter() - t0) * 1000)
            apologies += "try again" in replies[-1].text
            k += 1
    results.put((began, time.perf_counter(), times, apologies))
    session.store.close()


def run(url: str, users: int, turns: int, processes: int) -> tuple[float, list[float], int]:
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(processes)
    results = ctx.Queue()
    shares = [list(range(users))[p::processes] for p in range(processes)]
    procs = [ctx.Process(target=worker, args=(url, share, turns, start, results)) for share in shares]
    for p in procs:
        p.start()
    outs = [results.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(60)
        if p.exitcode != 0:
            raise SystemExit(f"a worker failed (exit {p.exitcode})")
    wall = max(o[1] for o in outs) - min(o[0] for o in outs)
    times = [t for o in outs for t in o[2]]
    return len(times) / wall, times, sum(o[3] for o in outs)


def line(label: str, tps: float, times: list[float], apologies: int, memory: str) -> str:
    return (f"{label:<22} {tps:8.0f} turns/s   p50 {statistics.median(times):6.3f} ms   p99 {percentile(times, 0.99):6.3f} ms"
            f"   ({len(times)} turns{', %d apologies' % apologies if apologies else ''})   {memory}")


def sqlite_memory(path: Path, users: int) -> str:
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    count, avg_json = db.execute("SELECT COUNT(*), AVG(LENGTH(state)) FROM conversations").fetchone()
    db.close()
    size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    assert count == users, (count, users)
    return f"JSON {avg_json:.0f} B/conv, file {size / count:.0f} B/conv"


class RedisServer:
    def __init__(self, workdir: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(workdir), "--loglevel", "warning"], stdout=subprocess.DEVNULL)
        import redis

        self.client = redis.Redis(port=self.port)
        for _ in range(500):
            try:
                self.client.ping()
                return
            except redis.RedisError:
                time.sleep(0.02)
        raise SystemExit("redis-server did not start")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def rss(self) -> int:
        for row in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if row.startswith("VmRSS:"):
                return int(row.split()[1]) * 1024
        return 0

    def stop(self) -> None:
        self.client.close()
        self.proc.terminate()
        self.proc.wait(10)


def redis_memory(server: RedisServer, used_before: int, rss_before: int, users: int) -> str:
    keys = [f"mbcbot:conv:user-{u}" for u in range(users)]
    assert server.client.exists(*keys) == users
    avg_json = statistics.mean(server.client.hstrlen(k, "state") for k in keys)
    avg_key = statistics.mean(server.client.memory_usage(k) for k in keys)
    used = server.client.info("memory")["used_memory"] - used_before
    rss = server.rss() - rss_before
    return (f"JSON {avg_json:.0f} B/conv, MEMORY USAGE {avg_key:.0f} B/conv, "
            f"used_memory {used / users:.0f} B/conv, redis-server RSS {rss / users:.0f} B/conv")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--skip-redis", action="store_true")
    args = parser.parse_args()
    print(f"{args.users} users x {args.turns} turns, bundled knowledge, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        for processes in (1, 2):
            path = Path(tmp) / f"load{processes}.db"
            tps, times, apologies = run(f"sqlite:///{path}", args.users, args.turns, processes)
            print(line(f"SQLite, {processes} process{'es' if processes > 1 else ''}", tps, times, apologies,
                       sqlite_memory(path, args.users)))
        if args.skip_redis:
            return
        if shutil.which("redis-server") is None:
            print("Redis: skipped (redis-server is not installed)")
            return
        server = RedisServer(Path(tmp))
        try:
            for processes in (1, 2):
                server.client.flushall()
                time.sleep(0.2)
                used_before = server.client.info("memory")["used_memory"]
                rss_before = server.rss()
                tps, times, apologies = run(server.url, args.users, args.turns, processes)
                print(line(f"Redis, {processes} process{'es' if processes > 1 else ''}", tps, times, apologies,
                           redis_memory(server, used_before, rss_before, args.users)))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
