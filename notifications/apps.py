from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Telegram notifications"

    def ready(self) -> None:
        # /metrics serves inbound_queue_depth from the relay's cached figure on every scrape,
        # and declares the bot's counters so that they exist before the first update.
        from notifications.metrics import InboundGaugesCollector
        from platform_ops.metrics import scrape_collector_register

        scrape_collector_register(InboundGaugesCollector())
