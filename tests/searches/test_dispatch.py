"""searches/dispatch.py against the real broker (Redis): how many messages wait on a queue."""

import uuid

from searches import dispatch
from searches.dispatch import celery_app


def test_messages_waiting_counts_what_no_worker_took_yet():
    queue = f"test-waiting-{uuid.uuid4().hex[:8]}"
    assert dispatch.messages_waiting(queue) == 0  # a queue without a message is no queue on Redis
    for trial_id in (1, 2):
        celery_app.send_task(dispatch.RUN_TRIAL, args=(trial_id,), queue=queue)
    try:
        assert dispatch.messages_waiting(queue) == 2
    finally:
        with celery_app.connection_for_write() as connection:
            connection.default_channel.queue_purge(queue)
    assert dispatch.messages_waiting(queue) == 0


def test_without_a_broker_nobody_can_say(settings):
    settings.NASWEB_EMBEDDED_WORKER = True
    assert dispatch.messages_waiting("cpu") is None
