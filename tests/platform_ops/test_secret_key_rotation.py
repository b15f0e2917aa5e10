"""SECRET_KEY rotation: a value signed with the old key validates under the new key only while
the old one is in SECRET_KEY_FALLBACKS (read from the environment)."""

import os
import subprocess
import sys

import pytest
from django.core import signing

OLD = "old-secret-key-0123456789abcdef0123456789abcdef"
NEW = "new-secret-key-0123456789abcdef0123456789abcdef"


def test_fallbacks_are_read_from_the_environment():
    env = dict(os.environ, SECRET_KEY=NEW, SECRET_KEY_FALLBACKS=f"{OLD},other-key", ENV_FILE="")
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    code = "from django.conf import settings; print(settings.SECRET_KEY_FALLBACKS)"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == repr([OLD, "other-key"])


def test_a_value_signed_with_the_old_key_validates_only_with_the_fallback(settings):
    settings.SECRET_KEY = OLD
    settings.SECRET_KEY_FALLBACKS = []
    token = signing.dumps({"staff": 7}, salt="rotation")
    settings.SECRET_KEY = NEW
    settings.SECRET_KEY_FALLBACKS = [OLD]
    assert signing.loads(token, salt="rotation") == {"staff": 7}
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(signing.BadSignature):
        signing.loads(token, salt="rotation")
