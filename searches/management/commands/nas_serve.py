"""Serve nasweb with daphne; in the embedded mode the worker runs in this process."""

from daphne.cli import CommandLineInterface
from django.conf import settings
from django.core.management.base import BaseCommand

from searches.embedded import start_and_recover


class Command(BaseCommand):
    help = "Serve the site (HTTP and websockets) with daphne, plus the embedded worker when no Redis is set."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, **opts):
        if settings.NASWEB_EMBEDDED_WORKER:
            start_and_recover()
            mode = "embedded worker and in-process channel layer"
        else:
            mode = f"Celery workers and channels on {settings.REDIS_URL}"
        url = f"http://{opts['host']}:{opts['port']}/"
        self.stdout.write(self.style.SUCCESS(f"nasweb is serving at {url} ({mode})"), ending="\n")
        self.stdout.flush()
        CommandLineInterface().run(["-b", opts["host"], "-p", str(opts["port"]), "nasweb.asgi:application"])
