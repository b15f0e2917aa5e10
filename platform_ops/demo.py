"""The demo's own webhook receiver (DEBUG only): proves delivery works in ``make run``.

It verifies each message with the ``standardwebhooks`` library exactly as a merchant would, and
keeps the last messages in the cache (shared by all web processes) for ``GET /demo/webhooks``;
only verified messages are kept, and each entry says ``"verified": true``. A message that fails
verification is answered 400 and not listed.
"""

from __future__ import annotations

import json
import logging

from django.core.cache import cache
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from standardwebhooks import Webhook, WebhookVerificationError

from outbox.crypto import secret_decrypt
from outbox.models import WebhookEndpoint

logger = logging.getLogger(__name__)
_CACHE_KEY = "demo:webhooks"
_KEEP = 50


@csrf_exempt
def demo_webhooks(request: HttpRequest) -> JsonResponse:
    if request.method == "GET":
        return JsonResponse({"received": cache.get(_CACHE_KEY, [])})
    url = request.build_absolute_uri(request.path)
    endpoint = WebhookEndpoint.objects.filter(url=url).first()
    if endpoint is None:
        return JsonResponse({"error": "no demo endpoint"}, status=404)
    try:
        Webhook(secret_decrypt(endpoint.secret_encrypted)).verify(
            request.body, {k.lower(): v for k, v in request.headers.items()}
        )
    except WebhookVerificationError:
        return JsonResponse({"error": "bad signature"}, status=400)
    message = json.loads(request.body)
    kept = cache.get(_CACHE_KEY, [])
    entry = {
        "webhook_id": request.headers.get("webhook-id"),
        # Only messages whose signature checked out are kept: each entry says so.
        "verified": True,
        "verified_with": "standardwebhooks (webhook-id, webhook-timestamp, webhook-signature)",
        "received_at": timezone.now().isoformat(),
        **message,
    }
    kept = [*kept, entry][-_KEEP:]
    cache.set(_CACHE_KEY, kept, timeout=3600)
    logger.info("demo receiver verified %s", message.get("type"))
    return JsonResponse({"ok": True})
