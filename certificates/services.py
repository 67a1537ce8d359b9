"""Certificate management on the CSMS's side: a station's CSR checked, signed and delivered
(A02/A03, the 1.6 whitepaper's SignCertificate and CertificateSigned), what the station reports
installed (M03 GetInstalledCertificateIds), deletions (M04), and the certificates due for renewal.

A CSR is checked in the station's own write (certificates/csr.py) and answered at once: Accepted
means the CSMS will sign it. Signing and the CertificateSigned that carries the chain follow once
the answer is out (`deliver`, run by the session's after-hook), as A02/A03 describe; the station's
answer to it is recorded on the request, so an operator sees each certificate from CSR to
installed, and which ones expire soon.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from cryptography import x509
from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet

from certificates import authority, csr
from certificates.models import InstalledCertificate, SigningRequest
from devicemodel import inventory
from devicemodel.references import Address
from stations import events
from stations.clock import utcnow
from stations.db import atomic, in_db_thread

logger = logging.getLogger("csms.certificates")

# Where a station reports the organization its CSRs must name: 2.0.1, then the 1.6 whitepaper's key.
ORGANIZATION = (
    Address.parse("SecurityCtrlr.OrganizationName"),
    Address.parse("OCPP16Configuration.CpoName"),
)


def organization_of(station_id: str) -> str:
    for address in ORGANIZATION:
        value = inventory.actual_value(station_id, address)
        if value:
            return value
    return ""


def csr_received(station_id: str, pem: str, kind: str) -> SigningRequest:
    """A SignCertificate: its CSR checked and recorded (state rejected or accepted)."""
    organization = organization_of(station_id)
    request = SigningRequest(station_id=station_id, kind=kind, csr=pem[:10000])
    try:
        checked = csr.check(pem, station_id, organization)
    except csr.CsrRejected as problem:
        request.state = SigningRequest.State.REJECTED
        request.problem = str(problem)[:300]
    else:
        request.state = SigningRequest.State.ACCEPTED
        request.subject = checked.subject[:300]
    request.save()
    events.publish("certificate", station=station_id)
    return request


def _signed(pk: int, chain: list[x509.Certificate]) -> None:
    leaf = chain[0]
    SigningRequest.objects.filter(pk=pk).update(
        state=SigningRequest.State.SIGNED,
        certificate=authority.pem(chain),
        serial_number=format(leaf.serial_number, "x"),
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
    )


def _undelivered(pk: int, why: str) -> None:
    SigningRequest.objects.filter(pk=pk).update(
        state=SigningRequest.State.UNDELIVERED, answer_info=why[:600], answered_at=utcnow()
    )
    events.publish("certificate", station=SigningRequest.objects.get(pk=pk).station_id)


async def deliver(station_id: str, pk: int, protocol: str, typed: bool) -> None:
    """Sign an accepted CSR and send the chain (CertificateSigned); `typed`: the SignCertificate
    named its certificateType, so CertificateSigned names it too (2.0.1)."""
    from stations.remote.delivery import send_command  # the remote layer sits above this app

    request = await in_db_thread(SigningRequest.objects.get)(pk=pk)
    try:
        checked = x509.load_pem_x509_csr(request.csr.encode())
        chain = await asyncio.to_thread(authority.signer().sign, checked, request.kind)
    except Exception as error:  # a signer of the operator's own failed: recorded, not raised
        logger.exception("Signing the CSR of %s failed", station_id)
        await in_db_thread(_undelivered)(pk, f"The signer failed: {error}")
        return
    await in_db_thread(_signed)(pk, chain)
    payload: dict[str, Any] = {"certificateChain": authority.pem(chain)}
    if typed and protocol == "2.0.1":
        payload["certificateType"] = request.kind
    await send_command(station_id, "CertificateSigned", payload, source="csms")


def chain_answered(station_id: str, chain: str, status: str, info: str) -> None:
    """The station's answer to CertificateSigned (`status` empty: it did not answer)."""
    try:
        leaf = x509.load_pem_x509_certificate(chain.encode())
    except ValueError:
        return  # not a chain the CSMS signed
    with atomic():
        request = (
            SigningRequest.objects.select_for_update()
            .filter(station_id=station_id, serial_number=format(leaf.serial_number, "x"))
            .first()
        )
        if request is None:
            return  # an operator's own CertificateSigned (REST): nothing of ours to follow
        request.state = {
            "Accepted": SigningRequest.State.INSTALLED,
            "Rejected": SigningRequest.State.REFUSED,
        }.get(status, SigningRequest.State.UNDELIVERED)
        request.answer_info = info[:600]
        request.answered_at = utcnow()
        request.save(update_fields=["state", "answer_info", "answered_at"])
        events.publish("certificate", station=station_id)


def expiring(within_days: int | None = None) -> QuerySet[SigningRequest]:
    """The installed certificates that expire within OCPP_CERTIFICATE_RENEW_DAYS (or
    `within_days`) and have no newer installed one of their kind: what is due for renewal."""
    days = settings.OCPP_CERTIFICATE_RENEW_DAYS if within_days is None else within_days
    installed = SigningRequest.objects.filter(state=SigningRequest.State.INSTALLED)
    due = installed.filter(not_after__lte=utcnow() + timedelta(days=days))
    newer = installed.filter(
        station_id=OuterRef("station_id"),
        kind=OuterRef("kind"),
        not_after__gt=OuterRef("not_after"),
    )
    return due.exclude(Exists(newer)).order_by("not_after")


def installed_reported(
    station_id: str, types: Sequence[str], chains: Sequence[dict[str, Any]]
) -> int:
    """A GetInstalledCertificateIds answer: the station's certificates of the `types` asked about
    (all types when none) replaced by those it reported. 1.6 reports bare hash data, 2.0.1 a chain
    per certificate with its type."""
    now = utcnow()
    with atomic():
        rows = InstalledCertificate.objects.filter(station_id=station_id, deleted_at__isnull=True)
        if types:
            rows = rows.filter(certificate_type__in=types)
        rows.delete()
        created = [
            InstalledCertificate(
                station_id=station_id,
                certificate_type=str(
                    chain.get("certificateType", "") or (types[0] if types else "")
                ),
                hash_algorithm=str(data["hashAlgorithm"]),
                issuer_name_hash=str(data["issuerNameHash"]),
                issuer_key_hash=str(data["issuerKeyHash"]),
                serial_number=str(data["serialNumber"]),
                children=list(chain.get("childCertificateHashData") or []),
                reported_at=now,
            )
            for chain in chains
            for data in (chain.get("certificateHashData", chain),)
        ]
        InstalledCertificate.objects.bulk_create(created, ignore_conflicts=True)
        events.publish("certificate", station=station_id)
        return len(created)


def deleted(station_id: str, hash_data: dict[str, Any], status: str, user: Any) -> None:
    """A DeleteCertificate answer: Accepted marks the certificate deleted; NotFound (the station
    no longer has it) too."""
    if status not in ("Accepted", "NotFound"):
        return
    InstalledCertificate.objects.filter(
        station_id=station_id,
        issuer_name_hash=hash_data.get("issuerNameHash"),
        issuer_key_hash=hash_data.get("issuerKeyHash"),
        serial_number=hash_data.get("serialNumber"),
        deleted_at__isnull=True,
    ).update(deleted_at=utcnow(), deleted_by=user if getattr(user, "pk", None) else None)
    events.publish("certificate", station=station_id)


def renewals_due(limit: int) -> list[tuple[str, str, str, int]]:
    """(station, protocol, kind, request pk) of connected stations whose certificate is due and
    whose renewal was not asked for in the last day: what the renewal job asks for, each marked."""
    quiet = utcnow() - timedelta(days=1)
    rows = list(
        expiring()
        .filter(station__connected=True)
        .exclude(renewal_asked_at__gt=quiet)
        .values_list("station_id", "station__protocol", "kind", "pk")[:limit]
    )
    SigningRequest.objects.filter(pk__in=[r[3] for r in rows]).update(renewal_asked_at=utcnow())
    return rows
