"""Rotating the customer bot's token and webhook secret as docs/operations.md ("Token or key
compromised") says, with real processes: a gunicorn api (production config), a Dramatiq worker
answering updates, the ``delete_webhook`` / ``set_webhook`` commands, all against the fake Bot
API over real HTTP.

Before: the old token and the old secret work. The steps: ``delete_webhook`` (old token),
revoke the old token at @BotFather (the fake stops accepting it), new token and new secret in
the environment, restart, ``set_webhook``. After: updates carrying the old secret get 403
problem+json (never a 5xx; nothing stored), the new secret is accepted, Telegram holds the new
secret under the new token, and replies go out with the new token only. Neither token nor
secret appears in any process's log. Waits are long (60 s): a worker boots in ~15 s on a busy
machine.
"""

from __future__ import annotations

import json

import httpx
import pytest

from notifications.models import TelegramUpdate
from tests.fakes.telegram_bot_api import FakeBotApi
from tests.notifications.updates import SECRET_HEADER, WEBHOOK, message_update

pytestmark = pytest.mark.slow

OLD_TOKEN = "111111:OLD-token-rotation"
NEW_TOKEN = "222222:NEW-token-rotation"
OLD_SECRET = "old-webhook-secret_rotation"
NEW_SECRET = "new-webhook-secret_rotation"
PUBLIC_URL = "https://loyalty.example"


def _bot(fake: FakeBotApi, token: str, secret: str) -> dict[str, str]:
    return {
        "TELEGRAM_NOTIFY_BOT_TOKEN": token,
        "TELEGRAM_NOTIFY_WEBHOOK_SECRET": secret,
        "TELEGRAM_API_BASE_URL": fake.url,
        "API_BASE_URL": PUBLIC_URL,
    }


def _post(url: str, update: dict, secret: str) -> httpx.Response:
    return httpx.post(
        f"{url}{WEBHOOK}",
        content=json.dumps(update),
        headers={"Content-Type": "application/json", SECRET_HEADER: secret},
        timeout=10,
    )


def _command(stack, name: str, env: dict[str, str]) -> str:
    done = stack.run(name, extra_env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_bot_token_and_webhook_secret_rotation(stack, gunicorn_server) -> None:
    with FakeBotApi(tokens=[OLD_TOKEN], limits=False) as fake:
        old, new = _bot(fake, OLD_TOKEN, OLD_SECRET), _bot(fake, NEW_TOKEN, NEW_SECRET)

        # Before: registered under the old token with the old secret; the bot answers.
        assert _command(stack, "set_webhook", old) == f"webhook set: {PUBLIC_URL}{WEBHOOK}"
        assert fake.webhook_for(OLD_TOKEN)["secret_token"] == OLD_SECRET
        api = gunicorn_server({**stack.env, **old})
        stack.worker(**old)
        assert _post(api.url, message_update(7001, "/help"), OLD_SECRET).status_code == 200
        assert fake.wait_for_messages(1, timeout=60, chat_id=7001, token=OLD_TOKEN)

        # The documented steps.
        assert _command(stack, "delete_webhook", old) == "webhook deleted"
        assert fake.webhook_for(OLD_TOKEN)["url"] == ""
        fake.configure(tokens=[NEW_TOKEN])  # @BotFather: old token revoked, a new one issued
        before = api
        before.stop()
        stack.stop("worker")
        api = gunicorn_server({**stack.env, **new})
        stack.worker(**new)
        assert _command(stack, "set_webhook", new) == f"webhook set: {PUBLIC_URL}{WEBHOOK}"
        hook = fake.webhook_for(NEW_TOKEN)
        assert (hook["url"], hook["secret_token"]) == (f"{PUBLIC_URL}{WEBHOOK}", NEW_SECRET)
        assert fake.webhook_for(OLD_TOKEN)["url"] == ""

        # After: the old secret is refused (403 problem+json, nothing stored) ...
        stale = message_update(7002, "/help")
        refused = _post(api.url, stale, OLD_SECRET)
        assert refused.status_code == 403
        assert refused.headers["Content-Type"].startswith("application/problem+json")
        assert SECRET_HEADER in refused.json()["detail"]
        assert not TelegramUpdate.objects.filter(update_id=stale["update_id"]).exists()
        # ... the new one accepted, and the reply goes out with the new token.
        assert _post(api.url, message_update(7003, "/help"), NEW_SECRET).status_code == 200
        assert fake.wait_for_messages(1, timeout=60, chat_id=7003, token=NEW_TOKEN)
        assert not fake.messages(token=OLD_TOKEN)[1:]  # only the reply sent before the switch
        after_switch = [r for r in fake.request_log() if r.method.lower() == "sendmessage"]
        assert [r.token for r in after_switch] == [OLD_TOKEN, NEW_TOKEN]
        assert all(r.status == 200 for r in after_switch)

        stack.stop_all()
        api.stop()
        logs = before.log() + api.log() + stack.log("worker")
        for secret in (OLD_TOKEN, NEW_TOKEN, OLD_SECRET, NEW_SECRET):
            assert secret not in logs
