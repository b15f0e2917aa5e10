"""``outbox_reencrypt_secrets``: move every endpoint secret to the newest encryption key."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from outbox.crypto import endpoint_secrets_reencrypt


class Command(BaseCommand):
    help = (
        "Re-encrypt every webhook endpoint secret under the newest key: the first of "
        "OUTBOX_ENCRYPTION_KEYS (or the key derived from SECRET_KEY when that is unset). Run it "
        "after putting a new key first; once it reports nothing left under older keys, they can "
        "be removed. Idempotent: secrets already under the newest key are not rewritten. Exits "
        "1 when some secret is readable by no configured key."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        with tqdm(unit="endpoint", desc="re-encrypting", file=self.stderr._out) as bar:

            def advance(handled: int, total: int) -> None:
                if bar.total != total:
                    bar.total = total
                bar.update(handled)

            result = endpoint_secrets_reencrypt(progress=advance)
        self.stdout.write(
            f"re-encrypted {result.reencrypted} endpoint secrets under the newest key; "
            f"{result.current} were already under it, {result.changed_meanwhile} changed "
            f"meanwhile, {len(result.undecryptable)} readable by no configured key"
        )
        if result.undecryptable:
            raise CommandError(
                "no configured key decrypts the secrets of endpoints "
                + ", ".join(result.undecryptable[:20])
                + (" ..." if len(result.undecryptable) > 20 else "")
                + "; put their key back into OUTBOX_ENCRYPTION_KEYS and run this again"
            )
