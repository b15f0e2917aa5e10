"""Portal API (tag ``portal``): sign-in, the signed-in member of staff, staff, audit trail, and
the merchant's overview. Every page of ``/portal/`` is backed by one of these endpoints."""

from portal.apis import (  # noqa: F401
    alerts,
    api_keys,
    auth,
    base,
    customers,
    overview,
    places,
    program,
    purchases,
    staff,
    webhooks,
)
