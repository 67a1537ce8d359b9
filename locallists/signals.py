"""What makes a station's local list due for an update: a token, or a list, that changed."""

from __future__ import annotations

from typing import Any

from locallists import sync
from locallists.models import AuthorizationList
from stations.models import IdToken


def token_saved(sender: type, instance: IdToken, **_: Any) -> None:
    sync.tokens_changed([instance.pk])


def list_saved(sender: type, instance: AuthorizationList, **_: Any) -> None:
    sync.list_changed(instance.pk)


def list_tokens_changed(
    sender: type, instance: Any, action: str, reverse: bool, pk_set: set[int] | None, **_: Any
) -> None:
    if not action.startswith("post_") and action != "pre_clear":
        return
    if reverse:  # token.authorization_lists changed: `instance` is the token
        sync.tokens_changed([instance.pk])
    else:
        sync.list_changed(instance.pk)
