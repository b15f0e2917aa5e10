from django.urls import path

from portal import apis, views

api_urlpatterns = [
    path("program", apis.program.PortalProgramApi.as_view(), name="portal-program"),
    path("api-keys", apis.api_keys.PortalApiKeyListApi.as_view(), name="portal-api-keys"),
    path(
        "api-keys/<uuid:key_id>/rotate",
        apis.api_keys.PortalApiKeyRotateApi.as_view(),
        name="portal-api-key-rotate",
    ),
    path(
        "api-keys/<uuid:key_id>/revoke",
        apis.api_keys.PortalApiKeyRevokeApi.as_view(),
        name="portal-api-key-revoke",
    ),
    path("auth/login", apis.auth.PortalLoginApi.as_view(), name="portal-login"),
    path("auth/refresh", apis.auth.PortalRefreshApi.as_view(), name="portal-refresh"),
    path("auth/logout", apis.auth.PortalLogoutApi.as_view(), name="portal-logout"),
    path("me", apis.auth.PortalMeApi.as_view(), name="portal-me"),
    path("me/password", apis.auth.PortalPasswordChangeApi.as_view(), name="portal-password"),
    path("staff", apis.staff.PortalStaffListApi.as_view(), name="portal-staff"),
    path(
        "staff/<uuid:staff_id>",
        apis.staff.PortalStaffUpdateApi.as_view(),
        name="portal-staff-update",
    ),
    path("telegram", apis.alerts.PortalTelegramLinkApi.as_view(), name="portal-telegram"),
    path(
        "telegram/link-code",
        apis.alerts.PortalTelegramLinkCodeApi.as_view(),
        name="portal-telegram-link-code",
    ),
    path(
        "webhooks/endpoints/<uuid:endpoint_id>/alert",
        apis.alerts.PortalEndpointAlertApi.as_view(),
        name="portal-endpoint-alert",
    ),
    path("places/<str:kind>", apis.places.PortalPlaceListApi.as_view(), name="portal-places"),
    path(
        "places/<str:kind>/<uuid:place_id>",
        apis.places.PortalPlaceUpdateApi.as_view(),
        name="portal-place",
    ),
    path("audit", apis.overview.PortalAuditListApi.as_view(), name="portal-audit"),
    path("overview", apis.overview.PortalOverviewApi.as_view(), name="portal-overview"),
    path("dashboard", apis.overview.PortalDashboardApi.as_view(), name="portal-dashboard"),
    path("customers", apis.customers.PortalCustomerListApi.as_view(), name="portal-customers"),
    path(
        "customers/<uuid:customer_id>",
        apis.customers.PortalCustomerDetailApi.as_view(),
        name="portal-customer",
    ),
    path(
        "customers/<uuid:customer_id>/adjust",
        apis.customers.PortalCustomerAdjustApi.as_view(),
        name="portal-customer-adjust",
    ),
    path("purchases", apis.purchases.PortalPurchaseListApi.as_view(), name="portal-purchases"),
    path(
        "purchases/<uuid:purchase_id>",
        apis.purchases.PortalPurchaseDetailApi.as_view(),
        name="portal-purchase",
    ),
    path(
        "purchases/<uuid:purchase_id>/refund",
        apis.purchases.PortalPurchaseRefundApi.as_view(),
        name="portal-purchase-refund",
    ),
    path(
        "webhooks/endpoints", apis.webhooks.PortalEndpointListApi.as_view(), name="portal-endpoints"
    ),
    path(
        "webhooks/endpoints/<uuid:endpoint_id>",
        apis.webhooks.PortalEndpointDetailApi.as_view(),
        name="portal-endpoint",
    ),
    path(
        "webhooks/endpoints/<uuid:endpoint_id>/pause",
        apis.webhooks.PortalEndpointPauseApi.as_view(),
        name="portal-endpoint-pause",
    ),
    path(
        "webhooks/endpoints/<uuid:endpoint_id>/resume",
        apis.webhooks.PortalEndpointResumeApi.as_view(),
        name="portal-endpoint-resume",
    ),
    path(
        "webhooks/endpoints/<uuid:endpoint_id>/rotate-secret",
        apis.webhooks.PortalEndpointRotateApi.as_view(),
        name="portal-endpoint-rotate",
    ),
    path(
        "webhooks/endpoints/<uuid:endpoint_id>/test",
        apis.webhooks.PortalEndpointTestApi.as_view(),
        name="portal-endpoint-test",
    ),
    path(
        "webhooks/deliveries",
        apis.webhooks.PortalDeliveryListApi.as_view(),
        name="portal-deliveries",
    ),
    path(
        "webhooks/deliveries/replay-about",
        apis.webhooks.PortalDeliveryReplayAboutApi.as_view(),
        name="portal-deliveries-replay-about",
    ),
    path(
        "webhooks/deliveries/replay-failed",
        apis.webhooks.PortalDeliveryReplayFailedApi.as_view(),
        name="portal-deliveries-replay",
    ),
    path(
        "webhooks/deliveries/<int:delivery_id>",
        apis.webhooks.PortalDeliveryDetailApi.as_view(),
        name="portal-delivery",
    ),
    path(
        "webhooks/deliveries/<int:delivery_id>/replay",
        apis.webhooks.PortalDeliveryReplayApi.as_view(),
        name="portal-delivery-replay",
    ),
]

page_urlpatterns = [
    path("", views.dashboard.dashboard_page, name="portal-home"),
    path("login", views.auth.login_page, name="portal-login-page"),
    path("logout", views.auth.logout_page, name="portal-logout-page"),
    path("language", views.auth.language_page, name="portal-language"),
    path("customers", views.customers.customers_page, name="portal-customers-page"),
    path(
        "customers/<uuid:customer_id>", views.customers.customer_page, name="portal-customer-page"
    ),
    path("purchases", views.purchases.purchases_page, name="portal-purchases-page"),
    path(
        "purchases/<uuid:purchase_id>", views.purchases.purchase_page, name="portal-purchase-page"
    ),
    path("webhooks", views.webhooks.webhooks_page, name="portal-webhooks-page"),
    path("api-keys", views.api_keys.api_keys_page, name="portal-api-keys-page"),
    path("staff", views.staff.staff_page_view, name="portal-staff-page"),
    path("alerts", views.alerts.alerts_page, name="portal-alerts-page"),
    path("places", views.places.places_page, name="portal-places-page"),
    path("program", views.program.program_page, name="portal-program-page"),
    path("webhooks/deliveries", views.webhooks.deliveries_page, name="portal-deliveries-page"),
    path(
        "webhooks/deliveries/<int:delivery_id>",
        views.webhooks.delivery_page,
        name="portal-delivery-page",
    ),
]
