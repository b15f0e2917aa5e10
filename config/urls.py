"""Root URLs: operations endpoints, admin, integration API, Telegram webhook, portal, schema."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from platform_ops import docs, health
from platform_ops.metrics import metrics_view
from portal import urls as portal_urls

urlpatterns = [
    path("health", health.health, name="health"),
    path("healthz", health.health, name="healthz"),
    path("live", health.live, name="live"),
    path("ready", health.ready, name="ready"),
    path("db/health", health.db_health, name="db-health"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("portal/", include(portal_urls.page_urlpatterns)),
    path("api/portal/v1/", include(portal_urls.api_urlpatterns)),
    path("api/integrations/v1/", include("integrations.urls")),
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

handler404 = "core.problems.handler404"
handler500 = "core.problems.handler500"
