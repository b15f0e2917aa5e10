"""Root URLs: operations endpoints, admin, integration API, Telegram webhook, portal, schema."""

from django.conf import settings
from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core.problems import handler404 as api_not_found
from platform_ops import docs, health, views
from platform_ops.metrics import metrics_view
from portal import urls as portal_urls

urlpatterns = [
    # First: the registers' calls are the hot path, and the resolver tries patterns in order
    # (the prefixes are disjoint, so the order changes no match).
    path("api/integrations/v1/", include("integrations.urls")),
    path("health", health.health, name="health"),
    path("healthz", health.health, name="healthz"),
    path("live", health.live, name="live"),
    path("ready", health.ready, name="ready"),
    path("db/health", health.db_health, name="db-health"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("portal/", include(portal_urls.page_urlpatterns)),
    path("api/portal/v1/", include(portal_urls.api_urlpatterns)),
    path("api/telegram/", include("notifications.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    # --- docs for merchants' developers (issue 14): problem type pages ---------------------
    path("docs/problems/", docs.problem_index, name="docs-problems"),
    path("docs/problems/<slug:slug>", docs.problem_page, name="docs-problem"),
    # --- end docs ------------------------------------------------------------------------------
]

if settings.DEBUG:
    from platform_ops.demo import demo_webhooks

    urlpatterns.append(path("demo/webhooks", demo_webhooks, name="demo-webhooks"))

# --- Hardening (issue 12): the landing page, and problem+json 404s under /api/ in every mode.
urlpatterns += [
    path("", views.landing, name="landing"),
    # Browsers ask for /favicon.ico on pages that name no icon (admin, docs): the portal's.
    path("favicon.ico", RedirectView.as_view(url=static("portal/favicon.svg"), permanent=True)),
    # Last: an unknown API path is a problem+json 404 even with DEBUG=1, whose own 404 page is
    # HTML listing every URL of the project.
    # csrf_exempt: a POST to an unknown API path is a 404 too, not CSRF's HTML 403 (API clients
    # send no CSRF cookie; nothing is written here).
    re_path(r"^api/", csrf_exempt(api_not_found), name="api-not-found"),
]
# --- end of hardening block -----------------------------------------------------------------

handler404 = "core.problems.handler404"
handler500 = "core.problems.handler500"
