from django.urls import path

from portal import apis, views

api_urlpatterns = [
    path("program", apis.PortalProgramApi.as_view(), name="portal-program"),
    path("api-keys", apis.PortalApiKeyListApi.as_view(), name="portal-api-keys"),
    path(
        "api-keys/<uuid:key_id>/rotate",
        apis.PortalApiKeyRotateApi.as_view(),
        name="portal-api-key-rotate",
    ),
    path(
        "api-keys/<uuid:key_id>/revoke",
        apis.PortalApiKeyRevokeApi.as_view(),
        name="portal-api-key-revoke",
    ),
    path("auth/login", apis.PortalLoginApi.as_view(), name="portal-login"),
    path("auth/refresh", apis.PortalRefreshApi.as_view(), name="portal-refresh"),
    path("auth/logout", apis.PortalLogoutApi.as_view(), name="portal-logout"),
    path("me", apis.PortalMeApi.as_view(), name="portal-me"),
    path("me/password", apis.PortalPasswordChangeApi.as_view(), name="portal-password"),
    path("staff", apis.PortalStaffListApi.as_view(), name="portal-staff"),
    path("staff/<uuid:staff_id>", apis.PortalStaffUpdateApi.as_view(), name="portal-staff-update"),
    path("places/<str:kind>", apis.PortalPlaceListApi.as_view(), name="portal-places"),
    path(
        "places/<str:kind>/<uuid:place_id>",
        apis.PortalPlaceUpdateApi.as_view(),
        name="portal-place",
    ),
    path("audit", apis.PortalAuditListApi.as_view(), name="portal-audit"),
    path("overview", apis.PortalOverviewApi.as_view(), name="portal-overview"),
    path("dashboard", apis.PortalDashboardApi.as_view(), name="portal-dashboard"),
    path("customers", apis.PortalCustomerListApi.as_view(), name="portal-customers"),
    path(
        "customers/<uuid:customer_id>",
        apis.PortalCustomerDetailApi.as_view(),
        name="portal-customer",
    ),
    path(
        "customers/<uuid:customer_id>/adjust",
        apis.PortalCustomerAdjustApi.as_view(),
        name="portal-customer-adjust",
    ),
    path("purchases", apis.PortalPurchaseListApi.as_view(), name="portal-purchases"),
    path(
        "purchases/<uuid:purchase_id>",
        apis.PortalPurchaseDetailApi.as_view(),
        name="portal-purchase",
    ),
    path(
        "purchases/<uuid:purchase_id>/refund",
        apis.PortalPurchaseRefundApi.as_view(),
        name="portal-purchase-refund",
    ),
    path("webhooks/endpoints", apis.PortalEndpointListApi.as_view(), name="portal-endpoints"),
    path(
        "webhooks/endpoints/<uuid:endpoint_id>",
        apis.PortalEndpointDetailApi.as_view(),
        name="portal-endpoint",
    ),
    path(
        "webhooks/endpoints/<uuid:endpoint_id>/pause",
        apis.PortalEndpointPauseApi.as_view(),
        name="portal-endpoint-pause",
    ),
    path(
        "webhooks/endpoints/<uuid:endpoint_id>/resume",
        apis.PortalEndpointResumeApi.as_view(),
        name="portal-endpoint-resume",
    ),
    path(
        "webhooks/endpoints/<uuid:endpoint_id>/rotate-secret",
        apis.PortalEndpointRotateApi.as_view(),
        name="portal-endpoint-rotate",
    ),
    path("webhooks/deliveries", apis.PortalDeliveryListApi.as_view(), name="portal-deliveries"),
    path(
        "webhooks/deliveries/replay-failed",
        apis.PortalDeliveryReplayFailedApi.as_view(),
        name="portal-deliveries-replay",
    ),
    path(
        "webhooks/deliveries/<int:delivery_id>",
        apis.PortalDeliveryDetailApi.as_view(),
        name="portal-delivery",
    ),
    path(
        "webhooks/deliveries/<int:delivery_id>/replay",
        apis.PortalDeliveryReplayApi.as_view(),
        name="portal-delivery-replay",
    ),
]

page_urlpatterns = [
    path("", views.dashboard_page, name="portal-home"),
    path("login", views.login_page, name="portal-login-page"),
    path("logout", views.logout_page, name="portal-logout-page"),
    path("language", views.language_page, name="portal-language"),
    path("customers", views.customers_page, name="portal-customers-page"),
    path("customers/<uuid:customer_id>", views.customer_page, name="portal-customer-page"),
    path("purchases", views.purchases_page, name="portal-purchases-page"),
    path("purchases/<uuid:purchase_id>", views.purchase_page, name="portal-purchase-page"),
    path("webhooks", views.webhooks_page, name="portal-webhooks-page"),
    path("api-keys", views.api_keys_page, name="portal-api-keys-page"),
    path("staff", views.staff_page_view, name="portal-staff-page"),
    path("places", views.places_page, name="portal-places-page"),
    path("program", views.program_page, name="portal-program-page"),
    path("webhooks/deliveries", views.deliveries_page, name="portal-deliveries-page"),
    path(
        "webhooks/deliveries/<int:delivery_id>",
        views.delivery_page,
        name="portal-delivery-page",
    ),
]
