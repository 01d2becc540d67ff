#!/usr/bin/env python3
"""A soak of `kin serve`: many loopback clients for a stretch of mixed work, and what it cost.

Starts `kin serve` on a fresh data directory with a text model, creates a collection, then runs
CLIENTS threads (one keep-alive connection each) for MINUTES: embeddings (/v1/embeddings, one
text), text searches, hybrid searches, upserts of 1 to 4 texts, and deletes of the client's own
items (bounded: a client holding 40 items deletes instead of adding, so the collection is full within the first minute). Every 5 s it samples the server's resident
memory. At the end: throughput and p50/p99 latency per operation, memory after the first minute
and at the end (their ratio must stay within 1.2), and every answer that was neither a success
nor 429 (there must be none).

    cargo build -p kin
    python3 scripts/soak.py --kin target/debug/kin --minutes 10 --clients 64
"""
import argparse
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

# Items a client keeps: 64 clients fill the collection (2,560 items) within the first minute,
# after which memory should stay flat.
QUOTA = 40

WORDS = ("river stone light paper garden engine music winter market forest signal harbor "
         "silver window thunder velvet orbit candle meadow canyon").split()


def sentence(rng):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 40)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def percentile(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


class Client(threading.Thread):
    def __init__(self, n, port, deadline, model, stats, lock):
        super().__init__(daemon=True)
        self.n, self.port, self.deadline, self.model = n, port, deadline, model
        self.stats, self.lock = stats, lock
        self.rng = random.Random(n)
        self.mine = []
        self.next_id = 0

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data else {}
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                return r.status, r.read()
            except (http.client.HTTPException, OSError):
                # A closed keep-alive connection: one more try on a fresh one.
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
                if attempt:
                    raise

    def run(self):
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        while time.time() < self.deadline:
            op = self.rng.choices(["embed", "search", "hybrid", "upsert", "delete"], [30, 25, 10, 25, 10])[0]
            if op == "upsert" and len(self.mine) >= QUOTA:
                # Bounded: a client at its quota deletes instead, so the data stops growing.
                op = "delete"
            if op == "embed":
                req = ("POST", "/v1/embeddings", {"model": self.model, "input": sentence(self.rng)})
            elif op in ("search", "hybrid"):
                mode = "text" if op == "search" else "hybrid"
                req = ("POST", "/v1/collections/soak/search", {"text": sentence(self.rng), "k": 10, "mode": mode})
            elif op == "upsert" or not self.mine:
                op = "upsert"
                items = []
                for _ in range(self.rng.randint(1, 4)):
                    item_id = f"c{self.n}-{self.next_id}"
                    self.next_id += 1
                    items.append({"id": item_id, "text": sentence(self.rng), "payload": {"client": self.n}})
                req = ("POST", "/v1/collections/soak/items", {"items": items})
            else:
                victim = self.mine.pop(self.rng.randrange(len(self.mine)))
                req = ("POST", "/v1/collections/soak/items/delete", {"ids": [victim]})
            started = time.perf_counter()
            try:
                status, body = self.call(*req)
            except Exception as e:  # noqa: BLE001 - every failure is reported
                status, body = -1, str(e).encode()
            took = time.perf_counter() - started
            if status == 200 and op == "upsert":
                self.mine.extend(i["id"] for i in req[2]["items"])
            with self.lock:
                s = self.stats.setdefault(op, {"ok": 0, "429": 0, "latencies": [], "errors": []})
                if status in (200, 201):
                    s["ok"] += 1
                    s["latencies"].append(took)
                elif status == 429:
                    s["429"] += 1
                else:
                    s["errors"].append((status, body[:200].decode(errors="replace")))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kin", default="target/debug/kin")
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--model", default="all-MiniLM-L6-v2")
    args = ap.parse_args()

    data = tempfile.mkdtemp(prefix="kin-soak-")
    port = free_port()
    server = subprocess.Popen(
        [args.kin, "--data", data, "serve", "--addr", f"127.0.0.1:{port}", "--model", args.model],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    server.stdout.readline()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    for _ in range(600):
        conn.request("GET", "/readyz")
        r = conn.getresponse()
        r.read()
        if r.status == 200:
            break
        time.sleep(0.5)
    conn.request("POST", "/v1/collections", body=json.dumps({"name": "soak", "model": args.model}),
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    assert r.status == 201, r.read()
    r.read()

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"soak: {args.clients} clients for {args.minutes} min against {args.kin} on {cpu}, {os.cpu_count()} cores",
          flush=True)
    stats, lock = {}, threading.Lock()
    start = time.time()
    deadline = start + args.minutes * 60
    clients = [Client(n, port, deadline, args.model, stats, lock) for n in range(args.clients)]
    for c in clients:
        c.start()
    memory = []
    while time.time() < deadline:
        memory.append((time.time() - start, rss_kib(server.pid)))
        time.sleep(5)
    for c in clients:
        c.join(timeout=900)
    memory.append((time.time() - start, rss_kib(server.pid)))
    elapsed = time.time() - start
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request("GET", "/v1/collections/soak")
    info = json.loads(conn.getresponse().read())
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=600)

    print(f"{'operation':<10} {'done':>8} {'per s':>8} {'p50 ms':>9} {'p99 ms':>9} {'429':>6} {'errors':>7}")
    errors = []
    for op in ["embed", "search", "hybrid", "upsert", "delete"]:
        s = stats.get(op, {"ok": 0, "429": 0, "latencies": [], "errors": []})
        lat = s["latencies"]
        print(f"{op:<10} {s['ok']:>8} {s['ok'] / elapsed:>8.1f} {percentile(lat, 0.5) * 1e3:>9.1f} "
              f"{percentile(lat, 0.99) * 1e3:>9.1f} {s['429']:>6} {len(s['errors']):>7}")
        errors += [(op, *e) for e in s["errors"]]
    after_minute = next((kib for t, kib in memory if t >= 60), memory[-1][1])
    end = memory[-1][1]
    ratio = end / after_minute if after_minute else float("nan")
    print(f"resident memory: {after_minute / 1024:.0f} MiB after the first minute, {end / 1024:.0f} MiB at the end "
          f"({ratio:.2f}x); peak {max(k for _, k in memory) / 1024:.0f} MiB; items at the end: {info.get('items')}")
    print("memory over time (s, MiB): " + ", ".join(f"{t:.0f}:{k / 1024:.0f}" for t, k in memory[::12]))
    for e in errors[:20]:
        print("error:", e)
    ok = not errors and ratio <= 1.2
    print("soak " + ("passed" if ok else "FAILED") + f": {len(errors)} errors other than 429, memory ratio {ratio:.2f}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
