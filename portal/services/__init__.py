"""The portal's writers: sign-in and sessions, staff, audit, and the merchant actions staff take
through the domain's services."""

from portal.errors import AuthenticationFailed, Forbidden, LoginThrottled
from portal.services.actions import customer_points_adjust, purchase_refund
from portal.services.audit import audit_record
from portal.services.auth import (
    ACCESS_TTL,
    REFRESH_TTL,
    TokenPair,
    portal_login,
    portal_logout,
    portal_refresh,
    staff_from_access,
)
from portal.services.places import (
    portal_place_create,
    portal_place_deactivate,
    portal_place_reactivate,
    portal_place_rename,
)
from portal.services.staff import (
    OWNERS,
    WRITERS,
    staff_password_change,
    staff_role_require,
    staff_user_create,
    staff_user_update,
)
from portal.services.webhooks import (
    deliveries_replay,
    endpoint_create,
    endpoint_pause,
    endpoint_resume,
    endpoint_secret_rotate,
    endpoint_update,
)

__all__ = [
    "ACCESS_TTL",
    "OWNERS",
    "REFRESH_TTL",
    "WRITERS",
    "AuthenticationFailed",
    "Forbidden",
    "LoginThrottled",
    "TokenPair",
    "audit_record",
    "customer_points_adjust",
    "deliveries_replay",
    "endpoint_create",
    "endpoint_pause",
    "endpoint_resume",
    "endpoint_secret_rotate",
    "endpoint_update",
    "portal_login",
    "portal_logout",
    "portal_place_create",
    "portal_place_deactivate",
    "portal_place_reactivate",
    "portal_place_rename",
    "portal_refresh",
    "purchase_refund",
    "staff_from_access",
    "staff_password_change",
    "staff_role_require",
    "staff_user_create",
    "staff_user_update",
]
