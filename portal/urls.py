from django.urls import path

from portal import apis, views

api_urlpatterns = [
    path("auth/login", apis.PortalLoginApi.as_view(), name="portal-login"),
    path("auth/refresh", apis.PortalRefreshApi.as_view(), name="portal-refresh"),
    path("auth/logout", apis.PortalLogoutApi.as_view(), name="portal-logout"),
    path("overview", apis.PortalOverviewApi.as_view(), name="portal-overview"),
]

page_urlpatterns = [path("", views.portal_home, name="portal-home")]
