from django.apps import AppConfig


class DevicesConfig(AppConfig):
    name = "devices"
    verbose_name = "Hardware targets"

    def ready(self):
        from . import signals  # noqa: F401  (connects the Celery worker_ready handler)
