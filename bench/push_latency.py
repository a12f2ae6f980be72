"""Websocket clients of one search while workers report: events/s, commit-to-receipt latency, misses.

    python bench/push_latency.py [--clients 100] [--rate 1000] [--seconds 10] [--reporters 2]

Serves the production stack's web side (daphne, PostgreSQL, Redis channel layer), opens `--clients`
websockets (autobahn's asyncio client) logged in as the search's owner, and starts `--reporters`
processes that write epochs of running trials through the services (services.record_epoch: a real
transaction, its event numbered and sent on commit) at `--rate` events a second in all. Each reporter
notes the wall-clock time at which each event's transaction committed and the event's sequence number;
each client notes when the frame holding each number arrived. Prints events/s written, frames/s per
client, p50/p95/max from commit to receipt over every (client, event), and events missed (numbers a
client never saw), with the machine load.

NASWEB_CHANNEL_LAYER=core|pubsub (nasweb/settings.py) picks the channel layer of the server it starts.
Measured on the shared 2-core machine (load ~3), one after the other in the same session:

    --clients 100 --rate 25 --seconds 10
      core:   24 events/s; p50 5232 ms, p95 9801 ms, max 10443 ms; missed 8129 of 28,000 (load 3.3)
      pubsub: 25 events/s; p50 186 ms,  p95 1303 ms, max 1680 ms;  missed 0 of 28,000    (load 3.1)
    --clients 100 --rate 200 --seconds 10 (the writers reach ~55-60 events/s: ~22 ms per record_epoch)
      core:   59 events/s; p50 7507 ms, p95 12060 ms; missed 47719 of 68,000 (load 3.7)
      pubsub: 55 events/s; p50 6626 ms, p95 13669 ms; missed 37006 of 58,000 (load 3.7)

The pubsub layer publishes once per group message (the core layer pushes one copy per member), but
it is not the default: its receive loop logs and swallows a Redis outage (no 1013 close, so the page
never refetches what it missed while Redis was away), and its per-channel queues are unbounded.
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


def reporter(database: str, trial_ids: list[int], rate: float, seconds: float, out: str) -> None:
    """Write epochs of these trials at `rate` events/s; note (seq, commit time) of each event sent."""
    setup_django(database)
    from searches import events, services

    sent = []
    original = events.send_now

    def noting(search_id, message):
        committed = time.time()  # on_commit runs right after COMMIT returns
        seq = original(search_id, message)
        sent.append((seq, committed))
        return seq

    events.send_now = noting
    started, count, epoch = time.perf_counter(), 0, 1
    while time.perf_counter() - started < seconds:
        for trial_id in trial_ids:
            # past epoch 500 it rewrites the last; the bench's trials are claimed as attempt 1
            services.record_epoch(trial_id, min(epoch, 500), {"val_accuracy": 0.5}, attempt=1)
            count += 1
            lag = started + count / rate - time.perf_counter()
            if lag > 0:
                time.sleep(lag)
        epoch += 1
    Path(out).write_text(json.dumps(sent))


async def client(port: int, path: str, cookie: str, received: dict, ready, counter: list) -> None:
    from autobahn.asyncio.websocket import WebSocketClientFactory, WebSocketClientProtocol

    class Listener(WebSocketClientProtocol):
        def onOpen(self):
            counter[0] += 1
            if counter[0] == counter[1]:
                ready.set()

        def onMessage(self, payload, is_binary):
            now = time.time()
            frame = json.loads(payload)
            received["frames"] += 1
            for seq in frame.get("seqs", ()):
                received["seqs"].setdefault(seq, now)

    factory = WebSocketClientFactory(f"ws://127.0.0.1:{port}{path}",
                                     headers={"Cookie": f"sessionid={cookie}", "Origin": f"http://127.0.0.1:{port}"})
    factory.protocol = Listener
    factory.setProtocolOptions(openHandshakeTimeout=120)  # a hundred logins at once on a loaded machine
    transport, _ = await asyncio.get_running_loop().create_connection(factory, "127.0.0.1", port)
    return transport


def clients_process(port: int, path: str, cookie: str, clients: int, ready, stop, out: str) -> None:
    """The websocket clients, in a process of their own (autobahn on asyncio; Django's daphne app
    has chosen Twisted in the main process)."""

    async def run():
        received = [{"frames": 0, "seqs": {}} for _ in range(clients)]
        counter = [0, clients]
        transports = await asyncio.gather(*[client(port, path, cookie, r, ready, counter) for r in received])
        while not stop.is_set():
            await asyncio.sleep(0.1)
        for transport in transports:
            transport.close()
        Path(out).write_text(json.dumps(received))

    asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--reporters", type=int, default=2)
    parser.add_argument("--database", default="nasweb_bench_push")
    args = parser.parse_args()
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
    outs = [str(logs / f"push-reporter-{i}.json") for i in range(args.reporters)]

    ctx = multiprocessing.get_context("spawn")
    with server(child_env(**env), logs / "push-server.log") as base:
        port = int(base.rsplit(":", 1)[1])
        print(f"{args.clients} clients, {args.reporters} reporters at {args.rate:.0f} events/s for "
              f"{args.seconds:.0f} s; {load()}")
        ready, stop, received_out = ctx.Event(), ctx.Event(), str(logs / "push-clients.json")
        listeners = ctx.Process(target=clients_process, args=(port, f"/ws/searches/{search.id}/", cookie,
                                                              args.clients, ready, stop, received_out))
        listeners.start()
        if not ready.wait(240):
            raise RuntimeError("the websocket clients did not all connect")
        procs = [ctx.Process(target=reporter, args=(args.database, ids[i::args.reporters],
                                                     args.rate / args.reporters, args.seconds, outs[i]))
                 for i in range(args.reporters)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        time.sleep(3)  # the last frames
        stop.set()
        listeners.join(60)
        print(f"after the run: {load()}")
    received = [{"frames": r["frames"], "seqs": {int(k): v for k, v in r["seqs"].items()}}
                for r in json.loads(Path(received_out).read_text())]
    sent = [tuple(x) for out in outs for x in json.loads(Path(out).read_text())]
    sent = [(seq, t) for seq, t in sent if seq is not None]
    committed = dict(sent)
    span = max(t for _, t in sent) - min(t for _, t in sent)
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
    print(f"events written: {len(sent)} in {span:.1f} s = {len(sent) / span:.0f} events/s; "
          f"frames per client: {frames:.1f}/s")
    p50 = statistics.median(latencies)
    print(f"commit -> receipt over {len(latencies):,} (client, event) pairs: p50 {1000 * p50:.0f}"
          f" ms, p95 {1000 * p95:.0f} ms, max {1000 * latencies[-1]:.0f} ms; missed {missed} of "
          f"{len(committed) * len(received):,}")
    print(load())


if __name__ == "__main__":
    main()
