"""Django's session, authentication and message middleware, for the pages only.

The machine APIs (``MACHINE_PATHS``: the integration API, authenticated by API keys, and the
Telegram webhook, by its secret header) use no session, no Django user and no messages, yet
each of these middleware did its work on every register call: a session store, a lazy user,
a message storage of two backends, and their response checks (about 5 % of a hot read's CPU,
issue 16). These subclasses leave those paths alone and behave as Django's on every other one
(admin, portal, portal API, docs). A view under a machine path that touched ``request.session``
or ``request.user`` would fail loudly (AttributeError), not quietly act on a browser's cookie.
"""

from __future__ import annotations

from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse

MACHINE_PATHS = ("/api/integrations/", "/api/telegram/")


def is_machine_path(request: HttpRequest) -> bool:
    return request.path_info.startswith(MACHINE_PATHS)


class PageSessionMiddleware(SessionMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        if not is_machine_path(request):
            super().process_request(request)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if not hasattr(request, "session"):
            return response
        answer: HttpResponse = super().process_response(request, response)
        return answer


class PageAuthenticationMiddleware(AuthenticationMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        if not is_machine_path(request):
            super().process_request(request)


class PageMessageMiddleware(MessageMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        if not is_machine_path(request):
            super().process_request(request)
