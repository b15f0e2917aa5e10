"""The portal's pages: server-rendered templates over the same services and selectors as the
portal API, with a few lines of vendored, same-origin JavaScript for the charts.

Authentication (decision): the pages keep the portal API's own JWTs in cookies, so one session
model serves both (logout, reuse detection and deactivation end a browser session exactly as
they end an API client's). Both cookies are ``HttpOnly`` (no script can read a token, so the
refresh token is never readable by JS), ``SameSite=Lax``, scoped to ``/portal/``, and ``Secure``
whenever Django's session cookie is (outside DEBUG unless ``SECURE_COOKIES=0``). Every form
carries Django's CSRF token; the API never accepts the cookies (it takes a Bearer header), so
it needs no CSRF token. Every page answers a Content-Security-Policy that allows scripts and
styles from our own origin only: no inline script, no CDN.
"""

from portal.views import (  # noqa: F401
    alerts,
    api_keys,
    auth,
    base,
    customers,
    dashboard,
    places,
    program,
    purchases,
    staff,
    webhooks,
)
