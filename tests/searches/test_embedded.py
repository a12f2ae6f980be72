"""The embedded worker's fair queue: searches take trial slots in turn."""

import threading

from searches import dispatch
from searches.embedded import ONESHOT, TRIALS, EmbeddedWorker, FairQueue


def test_searches_are_served_round_robin():
    q = FairQueue()
    for n in range(1, 5):
        q.put(f"a{n}", key="A")  # a long search queued first
    q.put("b1", key="B")
    q.put("c1", key="C")
    q.put("b2", key="B")
    order = [q.get() for _ in range(7)]
    assert order == ["a1", "b1", "c1", "a2", "b2", "a3", "a4"]
    assert q.waiting() == {}


def test_get_waits_for_work_and_join_for_the_end():
    q, got = FairQueue(), []
    thread = threading.Thread(target=lambda: (got.append(q.get()), q.task_done()))
    thread.start()
    q.put("x", key=1)
    q.join()
    thread.join(5)
    assert got == ["x"]


def test_supernets_have_their_own_slot():
    worker, started = EmbeddedWorker.__new__(EmbeddedWorker), []
    worker._start = lambda lane, name: started.append(lane)  # no threads: only the lanes are under test
    worker._start_timer = lambda loop, name: started.append(name)  # nor the sweep, which would touch the test database
    EmbeddedWorker.__init__(worker, 2)
    assert worker.work[dispatch.RUN_ONESHOT][0] == ONESHOT and worker.work[dispatch.RUN_TRIAL][0] == TRIALS
    assert started.count(TRIALS) == 2 and started.count(ONESHOT) == 1
    assert isinstance(worker.queues[TRIALS], FairQueue)
