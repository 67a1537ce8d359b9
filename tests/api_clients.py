"""HTTP clients for API tests that run in the same event loop as connected stations."""

from __future__ import annotations

from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.test import AsyncClient
from rest_framework.authtoken.models import Token

from stations.models import IdToken


class TokenClient(AsyncClient):
    """An AsyncClient that authenticates every request with a DRF token. (Headers given to the
    AsyncClient constructor reach the view under doubled HTTP_HTTP_ names in Django 5.2.)"""

    def __init__(self, key: str):
        super().__init__()
        self.token = {"Authorization": f"Token {key}"}

    def generic(self, method, path, *args, headers=None, **kwargs):
        return super().generic(
            method, path, *args, headers={**self.token, **(headers or {})}, **kwargs
        )


@database_sync_to_async
def make_user(username: str, *, staff: bool = False, token: str | None = None) -> TokenClient:
    """A user (staff or driver, optionally owning an ID token) and a client signed in as them."""
    user = get_user_model().objects.create_user(username, password="pw", is_staff=staff)
    if token:
        IdToken.objects.create(token=token, user=user)
    return TokenClient(Token.objects.create(user=user).key)
