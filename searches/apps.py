from django.apps import AppConfig


class SearchesConfig(AppConfig):
    name = "searches"
    verbose_name = "Searches"

    def ready(self):
        # Django's rule: modules that use models are imported once the app registry is ready.
        from . import dispatch, embedded, signals  # noqa: F401  (signals connects the worker_ready handler)

        dispatch.use_local_executor(embedded.submit)  # used only when NASWEB_EMBEDDED_WORKER is on
