"""Is this ID token allowed to charge? Shared by Authorize, StartTransaction and TransactionEvent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from stations.clock import utcnow
from stations.models import AuthorizationStatus, IdToken


@dataclass(frozen=True, slots=True)
class PresentedToken:
    """An ID token as a station presents it: its value and, in 2.0.1, its type (ISO14443, ...)."""

    value: str
    type: str = ""


@dataclass(frozen=True)
class Authorization:
    status: str
    expires_at: datetime | None = None
    group_token: str | None = None
    group_type: str | None = None
    known: bool = True  # an ID token of the CSMS (False: decided by OCPP_ACCEPT_UNKNOWN_ID_TOKENS)

    @property
    def accepted(self) -> bool:
        return self.status == AuthorizationStatus.ACCEPTED


def authorize(token: str) -> Authorization:
    """Accepted, Blocked, Expired or Invalid; unknown tokens are Invalid unless
    OCPP_ACCEPT_UNKNOWN_ID_TOKENS is on. A token's group inherits nothing: a blocked group token
    does not block its members (operators block the member)."""
    found = IdToken.objects.select_related("parent").filter(token=token).first()
    status: str
    if found is None:
        status = (
            AuthorizationStatus.ACCEPTED
            if settings.OCPP_ACCEPT_UNKNOWN_ID_TOKENS
            else AuthorizationStatus.INVALID
        )
        return Authorization(status, known=False)
    status = found.status
    if status == AuthorizationStatus.ACCEPTED and found.expires_at and found.expires_at <= utcnow():
        status = AuthorizationStatus.EXPIRED
    parent = found.parent
    return Authorization(
        status=status,
        expires_at=found.expires_at,
        group_token=parent.token if parent else None,
        group_type=parent.type if parent else None,
    )
