"""Celery application. Start a worker with `make worker` (queues default and cpu) and the recovery
sweep's clock with `make beat` (one per installation)."""

import os

from celery import Celery
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nasweb.settings")

#: The recovery sweep (searches/services/recovery.py), sent by beat every NASWEB_SWEEP_SECONDS.
SWEEP_TASK = "searches.sweep"

app = Celery("nasweb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def schedule_the_sweep(sender, **kwargs):
    every = settings.NASWEB_SWEEP_SECONDS
    queue = f"{settings.NASWEB_QUEUE_PREFIX}default"
    # A sweep that waited longer than one period is dropped: the next one does the same work.
    sender.add_periodic_task(every, sender.signature(SWEEP_TASK), name="nasweb recovery sweep", queue=queue,
                             expires=every)
