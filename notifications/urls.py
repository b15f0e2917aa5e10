from django.urls import path

from notifications.apis import TelegramWebhookApi

urlpatterns = [
    path("webhook", TelegramWebhookApi.as_view(), name="telegram-webhook"),
]
