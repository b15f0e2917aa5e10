"""The negotiation's fast path answers what DRF's default would, for every Accept header."""

from __future__ import annotations

import pytest
from django.http import Http404
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from core.negotiation import FastContentNegotiation

ACCEPTS = [
    None,
    "*/*",
    " */* ",
    "application/json",
    "",
    "text/html",
    "application/*",
    "application/json; indent=4",
    "application/json;q=0.5, */*;q=0.1",
    "text/html, application/json",
]


def _answer(negotiation, accept, path, renderers):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get(path, **headers))
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers)
    except (NotAcceptable, Http404) as exc:
        return type(exc).__name__
    return type(renderer).__name__, media_type


@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("path", ["/x", "/x?format=json", "/x?format=api", "/x?format=xml"])
@pytest.mark.parametrize(
    "renderers", [[JSONRenderer()], [JSONRenderer(), BrowsableAPIRenderer()]], ids=["json", "two"]
)
def test_the_fast_path_answers_as_the_default(accept, path, renderers):
    assert _answer(FastContentNegotiation(), accept, path, renderers) == _answer(
        DefaultContentNegotiation(), accept, path, renderers
    )
