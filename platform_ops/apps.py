from django.apps import AppConfig


class PlatformOpsConfig(AppConfig):
    name = "platform_ops"
    verbose_name = "Platform operations"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created
        from django.utils.module_loading import autodiscover_modules

        from platform_ops.slow_queries import query_observer_install

        # Every app's metrics defined in every process (api, relay, workers), so that a scrape
        # declares them all, used or not (see platform_ops/metrics.py).
        autodiscover_modules("metrics")

        # Infrastructure, not business logic: time every query in every process.
        connection_created.connect(query_observer_install, dispatch_uid="platform_ops.queries")
