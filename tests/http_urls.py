"""Views for tests/test_http_handler.py: each reports the thread it ran in."""

from __future__ import annotations

import threading

from django.http import HttpRequest, JsonResponse
from django.urls import path

entered = threading.Event()  # set by the blocking view once it runs
released = threading.Event()  # the blocking view waits for this


def where(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {"view": threading.get_ident(), "started": getattr(request, "started_in", None)}
    )


def blocking(request: HttpRequest) -> JsonResponse:
    entered.set()
    released.wait(10)
    return JsonResponse({"view": threading.get_ident()})


urlpatterns = [path("where/", where), path("blocking/", blocking)]
