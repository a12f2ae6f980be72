"""Websocket clients of one search while events are sent: events/s, commit-to-receipt latency, misses.

    python bench/push_latency.py [--clients 100] [--mode both|push|services] [--rate 1000]
                                 [--services-rate 200] [--seconds 10] [--reporters 2] [--batch 1]

Serves the production stack's web side (daphne, PostgreSQL, Redis), opens `--clients` websockets
(autobahn's asyncio client, in a process of their own) logged in as the search's owner, and measures
one or both ways of sending events, one after the other on the same server and clients:

- push: `--reporters` processes send events the way the services do after a commit
  (events.send_now, or events.send_many_now in batches of `--batch`), `--rate` events a second in
  all, each timestamped when it is appended: the push path itself (log append, the server's live
  hub, the consumers' frames) without the cost of the writes.
- services: the reporters write epochs of running trials through the services (services.record_epoch:
  a real transaction, its event sent on commit) at up to `--services-rate` events a second in all;
  each event is timestamped when its transaction has committed. This rate is bound by the writes
  (about 13 ms a record_epoch here: 2 reporters reached 150 events/s), not by the push.

Each client notes when the frame holding each number arrived. Per mode it prints the events/s sent,
the writers' time per send call, frames/s per client, p50/p95/max from commit (append) to receipt over
every (client, event), and events missed (numbers a client never saw), with the machine load before
and after.

The push path (searches/live_hub.py): writers only append to the search's log in Redis; each server
process reads it once per 50 ms tick per search its sockets watch and hands the events to its
consumers, which send at most 10 frames a second each. Measured on the shared 2-core machine, this
design and then the one before it (events.send_now also did a channels-redis group_send, which pushed
one copy of each event into every socket's channel; the same bench file run on a checkout of commit
8d0b0f4), one after the other:

    python bench/push_latency.py --clients 100 --rate 1000 --services-rate 400 --seconds 10
      hub, push:       999 events/s, send call 0.75 ms; p50 90 ms, p95 148 ms, max 228 ms;
                       missed 0 of 999,400 (load 3.72 -> 3.78)
      hub, services:   150 events/s (the writes' rate), send call 1.16 ms; p50 90 ms, p95 168 ms,
                       max 630 ms; missed 0 of 152,000 (load 3.78 -> 3.88)
      before, push:    224 events/s, send call 8.62 ms; p50 7315 ms, p95 15160 ms, max 15259 ms;
                       missed 209200 of 232,000 (load 3.96 -> 4.37)
      before, services: 71 events/s, send call 14.91 ms; p50 5996 ms, p95 12954 ms, max 13086 ms;
                       missed 49589 of 72,000 (load 4.37 -> 4.55)
    python bench/push_latency.py --clients 100 --rate 1000 --mode push --batch 10 --seconds 10
      hub, push:       1002 events/s in send_many_now calls of 10 (1.29 ms each); p50 84 ms, p95 138 ms,
                       max 167 ms; missed 0 of 1,000,000 (load 4.21 -> 3.84)

The figures move with the machine's load (other jobs share its 2 cores): the same push run at load
4.9 -> 7.4 gave 917 events/s, p95 377 ms, none missed. The NASWEB_CHANNEL_LAYER=pubsub switch the
bench once compared (p95 1303 ms at 25 events/s, but a Redis outage went unnoticed) is gone: the
channel layer carries no events now.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from throughput import load, setup_django  # noqa: E402


def reporter(database: str, trial_ids: list[int], rate: float, seconds: float, together, out: str) -> None:
    """Write epochs of these trials at up to `rate` events/s; note (seq, commit time) of each event and
    the time spent in each send call."""
    setup_django(database)
    from searches import events, services

    together.wait()  # the reporters start at once: the span of the sends is the run's

    sent, calls = [], []
    original = events.send_now

    def noting(search_id, message):
        committed = time.time()  # on_commit runs right after COMMIT returns
        seq = original(search_id, message)
        calls.append(time.time() - committed)
        sent.append((seq, committed))
        return seq

    events.send_now = noting
    started, count, epoch = time.perf_counter(), 0, 1
    while time.perf_counter() - started < seconds:
        for trial_id in trial_ids:
            # past epoch 500 it rewrites the last; the bench's trials are claimed as attempt 1
            services.record_epoch(trial_id, min(epoch, 500), {"val_accuracy": 0.5}, attempt=1)
            count += 1
            pace(started, count, rate)
        epoch += 1
    Path(out).write_text(json.dumps({"sent": sent, "calls": calls}))


def appender(database: str, search_id: int, trial_ids: list[int], rate: float, seconds: float, batch: int,
             together, out: str) -> None:
    """Send epoch events of these trials as the services do after a commit, `batch` at a time, at
    `rate` events/s; note (seq, append time) of each and the time spent in each send call."""
    setup_django(database)
    from searches import events

    together.wait()

    sent, calls = [], []
    started, count = time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        messages = [{"type": "metric.update", "trial_id": trial_ids[(count + i) % len(trial_ids)],
                     "number": (count + i) % len(trial_ids) + 1, "epoch": (count + i) // len(trial_ids) + 1,
                     "metrics": {"val_accuracy": 0.5}} for i in range(batch)]
        at = time.time()
        if batch == 1:
            seqs = [events.send_now(search_id, messages[0])]
        else:
            seqs = events.send_many_now(search_id, messages)
        calls.append(time.time() - at)
        sent += [(seq, at) for seq in seqs]
        count += batch
        pace(started, count, rate)
    Path(out).write_text(json.dumps({"sent": sent, "calls": calls}))


def pace(started: float, count: int, rate: float) -> None:
    """Sleep until the `count`-th event is due (none when behind: the rate is then what the sender reaches)."""
    lag = started + count / rate - time.perf_counter()
    if lag > 0:
        time.sleep(lag)


async def client(port: int, path: str, cookie: str, received: dict, ready, counter: list,
                 transports: list) -> None:
    """One socket; a handshake the server refuses (the page's live_socket.js would retry it) is noted
    with its code and tried again half a second later."""
    from autobahn.asyncio.websocket import WebSocketClientFactory, WebSocketClientProtocol

    class Listener(WebSocketClientProtocol):
        opened = False

        def onOpen(self):
            self.opened = True
            counter[0] += 1
            if counter[0] == counter[1]:
                ready.set()

        def onMessage(self, payload, is_binary):
            now = time.time()
            frame = json.loads(payload)
            received["frames"] += frame.get("type") == "batch"  # status messages are not frames of events
            for seq in frame.get("seqs", ()):
                received["seqs"].setdefault(seq, now)

        def onClose(self, was_clean, code, reason):
            if self.opened:
                received["closed"].append(code)
                return
            received["refused"].append(code)
            asyncio.get_running_loop().call_later(0.5, lambda: asyncio.ensure_future(
                client(port, path, cookie, received, ready, counter, transports)))

    factory = WebSocketClientFactory(f"ws://127.0.0.1:{port}{path}",
                                     headers={"Cookie": f"sessionid={cookie}", "Origin": f"http://127.0.0.1:{port}"})
    factory.protocol = Listener
    factory.setProtocolOptions(openHandshakeTimeout=120)  # a hundred logins at once on a loaded machine
    transport, _ = await asyncio.get_running_loop().create_connection(factory, "127.0.0.1", port)
    transports.append(transport)


def clients_process(port: int, path: str, cookie: str, clients: int, ready, stop, out: str) -> None:
    """The websocket clients, in a process of their own (autobahn on asyncio; Django's daphne app
    has chosen Twisted in the main process)."""

    async def run():
        received = [{"frames": 0, "seqs": {}, "refused": [], "closed": []} for _ in range(clients)]
        counter, transports = [0, clients], []
        await asyncio.gather(*[client(port, path, cookie, r, ready, counter, transports) for r in received])
        while not stop.is_set():
            await asyncio.sleep(0.1)
        for transport in transports:
            transport.close()
        Path(out).write_text(json.dumps(received))

    asyncio.run(run())


def measure(mode: str, args, search_id: int, ids: list[int], port: int, cookie: str, logs: Path) -> None:
    rate = args.rate if mode == "push" else args.services_rate
    how = f"batches of {args.batch}" if mode == "push" and args.batch > 1 else "one event a call"
    print(f"\n[{mode}] {args.clients} clients, {args.reporters} reporters at {rate:.0f} events/s ({how}) for "
          f"{args.seconds:.0f} s; before: {load()}", flush=True)
    ctx = multiprocessing.get_context("spawn")
    ready, stop, received_out = ctx.Event(), ctx.Event(), str(logs / f"push-clients-{mode}.json")
    listeners = ctx.Process(target=clients_process, args=(port, f"/ws/searches/{search_id}/", cookie,
                                                          args.clients, ready, stop, received_out))
    opening = time.perf_counter()
    listeners.start()
    if not ready.wait(240):
        raise RuntimeError("the websocket clients did not all connect")
    print(f"{args.clients} sockets open after {time.perf_counter() - opening:.1f} s", flush=True)
    outs = [str(logs / f"push-{mode}-{i}.json") for i in range(args.reporters)]
    together = ctx.Barrier(args.reporters)
    if mode == "push":
        procs = [ctx.Process(target=appender, args=(args.database, search_id, ids[i::args.reporters],
                                                     rate / args.reporters, args.seconds, args.batch, together,
                                                     outs[i]))
                 for i in range(args.reporters)]
    else:
        procs = [ctx.Process(target=reporter, args=(args.database, ids[i::args.reporters],
                                                     rate / args.reporters, args.seconds, together, outs[i]))
                 for i in range(args.reporters)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    time.sleep(3)  # the last frames
    stop.set()
    listeners.join(60)
    after = load()
    received = [r | {"seqs": {int(k): v for k, v in r["seqs"].items()}}
                for r in json.loads(Path(received_out).read_text())]
    reports = [json.loads(Path(out).read_text()) for out in outs]
    report(received, [tuple(x) for r in reports for x in r["sent"]], [c for r in reports for c in r["calls"]])
    print(f"after: {after}", flush=True)


def report(received: list[dict], sent: list[tuple], calls: list[float]) -> None:
    failed = sum(1 for seq, _ in sent if seq is None)
    committed = {seq: t for seq, t in sent if seq is not None}
    span = max(committed.values()) - min(committed.values())
    latencies, missed = [], 0
    for r in received:
        for seq, at in committed.items():
            if seq in r["seqs"]:
                latencies.append(r["seqs"][seq] - at)
            else:
                missed += 1
    latencies.sort()
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    frames = statistics.fmean(r["frames"] for r in received) / max(span, 1e-9)
    print(f"events sent: {len(committed)} in {span:.1f} s = {len(committed) / span:.0f} events/s "
          f"({failed} not numbered); send call: mean {1000 * statistics.fmean(calls):.2f} ms over {len(calls)} "
          f"calls; frames per client: {frames:.1f}/s")
    p50 = statistics.median(latencies)
    print(f"commit -> receipt over {len(latencies):,} (client, event) pairs: p50 {1000 * p50:.0f} ms, "
          f"p95 {1000 * p95:.0f} ms, max {1000 * latencies[-1]:.0f} ms; missed {missed} of "
          f"{len(committed) * len(received):,}")
    refused = [code for r in received for code in r["refused"]]
    closed = [code for r in received for code in r["closed"]]
    print(f"handshakes refused and retried: {len(refused)} (codes {sorted(set(refused))}); sockets closed by the "
          f"server during the run: {len(closed)} (codes {sorted(set(closed))})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--mode", choices=("both", "push", "services"), default="both")
    parser.add_argument("--rate", type=float, default=1000, help="events/s in all, push mode")
    parser.add_argument("--services-rate", type=float, default=200, help="events/s at most, services mode")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--reporters", type=int, default=2)
    parser.add_argument("--batch", type=int, default=1, help="events a send call, push mode (1: send_now)")
    parser.add_argument("--database", default="nasweb_bench_push")
    args = parser.parse_args()
    if min(args.clients, args.reporters, args.batch) < 1 or min(args.rate, args.services_rate, args.seconds) <= 0:
        parser.error("--clients, --reporters and --batch are at least 1; the rates and --seconds above 0")
    env = setup_django(args.database)
    from django.contrib.auth import get_user_model
    from scale import session_cookie

    from searches import dispatch, services
    from searches.models import Trial
    from tests.processes import child_env, server

    user, _ = get_user_model().objects.get_or_create(username="push-bench")
    project = services.create_project(user, "push bench", services.builtin_dataset("digits"))
    real_send = dispatch.send_now
    dispatch.send_now = lambda *a: None  # no worker: the reporters write
    search = services.start_search(project, user, name="push", space_kind="chain_mlp", space_spec=None,
                                   strategy="random", max_trials=10_000, training={"epochs": 500}, seed=1)
    dispatch.send_now = real_send
    space = search.space.build()
    import random

    rng = random.Random(0)
    trials = Trial.objects.bulk_create([Trial(search=search, number=n, arch=space.sample(rng), arch_key=f"p{n}",
                                              state="running", worker="bench", attempt=1) for n in range(1, 41)])
    ids = [t.id for t in trials]
    cookie = session_cookie(user)
    logs = Path(os.environ.get("TMPDIR", "/tmp")) / "nasweb-bench"
    logs.mkdir(exist_ok=True)
    with server(child_env(**env), logs / "push-server.log") as base:
        port = int(base.rsplit(":", 1)[1])
        for mode in ("push", "services") if args.mode == "both" else (args.mode,):
            measure(mode, args, search.id, ids, port, cookie, logs)


if __name__ == "__main__":
    main()
