"""The certificate commands (OCPP 2.0.1 M03-M05 and A02's trigger, the 1.6 whitepaper's
InstallCertificate, DeleteCertificate, GetInstalledCertificateIds, ExtendedTriggerMessage),
declared in the catalog of `stations.remote`, and what their answers mean.

CertificateSigned is not an operator's command: the CSMS sends it itself with the chain its
authority signed (certificates/services.py); its answer is recorded on the signing request. An
integrator may still send one through REST, as the catalog lets any action of the version through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography import x509

from certificates import hashdata, services
from certificates.models import InstalledCertificate
from devicemodel.readings import status_info
from stations.clock import utcnow
from stations.remote.answers import Answer, records
from stations.remote.catalog import V16, V201, CommandSpec, NoDefaultPayload, Target, register
from stations.remote.delivery import send_command
from stations.remote.forms import Choice, Form, FormInput, InputError, LongText, Text
from stations.remote.results import CommandResult

ROOTS = {
    V201: (
        "CSMSRootCertificate",
        "V2GRootCertificate",
        "MORootCertificate",
        "ManufacturerRootCertificate",
    ),
    V16: ("CentralSystemRootCertificate", "ManufacturerRootCertificate"),
}
ALL_ROOTS = tuple(dict.fromkeys(ROOTS[V201] + ROOTS[V16]))
# 2.0.1's 1.6 name of the CSMS's root: an operator picks one list for both versions.
TO_16 = {"CSMSRootCertificate": "CentralSystemRootCertificate"}
TO_201 = {v: k for k, v in TO_16.items()}


def _for(kind: str, protocol: str) -> str:
    kind = (TO_16 if protocol == V16 else TO_201).get(kind, kind)
    if kind not in ROOTS[protocol]:
        raise InputError(f"OCPP {protocol} has no {kind}: one of {', '.join(ROOTS[protocol])}")
    return kind


KIND = Choice(
    "kind", "Certificate", tuple((k, k) for k in ALL_ROOTS), default="CSMSRootCertificate"
)


# --- InstallCertificate (M05) ---------------------------------------------------------------------


@dataclass(frozen=True)
class InstallInput(FormInput):
    kind: str
    certificate: str  # PEM

    fields = (
        KIND,
        LongText("certificate", "PEM certificate", placeholder="-----BEGIN CERTIFICATE-----"),
    )

    @classmethod
    def from_form(cls, form: Form) -> InstallInput:
        value = cls(KIND.read(form), LongText("certificate", "").read(form))
        value.parsed()
        return value

    def parsed(self) -> x509.Certificate:
        try:
            return x509.load_pem_x509_certificate(self.certificate.encode())
        except ValueError:
            raise InputError("The certificate is not a PEM X.509 certificate") from None


def _no_certificate(target: Target) -> Any:
    raise NoDefaultPayload("It needs the certificate")


def _install(value: InstallInput, target: Target) -> dict[str, Any]:
    return {"certificateType": _for(value.kind, target.protocol), "certificate": value.certificate}


register(
    CommandSpec(
        "install-certificate",
        "Install a root certificate",
        {V16: "InstallCertificate", V201: "InstallCertificate"},
        InstallInput,
        _install,
        default=_no_certificate,
        on_page=False,  # on the station's security page
    )
)


@records("InstallCertificate")
def _installed(answer: Answer) -> None:
    """Accepted: the certificate is listed as installed at once (a later
    GetInstalledCertificateIds confirms or corrects it)."""
    if answer.response.get("status") != "Accepted":
        return
    try:
        certificate = x509.load_pem_x509_certificate(str(answer.payload["certificate"]).encode())
    except ValueError:
        return
    data = hashdata.of(certificate)
    InstalledCertificate.objects.update_or_create(
        station_id=answer.station_id,
        certificate_type=str(answer.payload["certificateType"]),
        issuer_name_hash=data["issuerNameHash"],
        issuer_key_hash=data["issuerKeyHash"],
        serial_number=data["serialNumber"],
        defaults={
            "hash_algorithm": data["hashAlgorithm"],
            "reported_at": utcnow(),
            "deleted_at": None,
        },
    )


# --- GetInstalledCertificateIds (M03) -------------------------------------------------------------


@dataclass(frozen=True)
class ListInput(FormInput):
    kind: str = ""  # empty: every type (2.0.1; 1.6 asks for each type in turn)

    fields = (Choice("kind", "Certificates", (("", "All"), *((k, k) for k in ALL_ROOTS))),)

    @classmethod
    def from_form(cls, form: Form) -> ListInput:
        return cls(str(form.get("kind") or "").strip())


def _list(value: ListInput, target: Target) -> dict[str, Any]:
    if target.protocol == V16:
        return {"certificateType": _for(value.kind or "CSMSRootCertificate", V16)}
    return {"certificateType": [_for(value.kind, V201)]} if value.kind else {}


register(
    CommandSpec(
        "installed-certificates",
        "List installed certificates",
        {V16: "GetInstalledCertificateIds", V201: "GetInstalledCertificateIds"},
        ListInput,
        _list,
        on_page=False,
    )
)


@records("GetInstalledCertificateIds")
def _listed(answer: Answer) -> None:
    if not answer.answered or answer.response.get("status") not in ("Accepted", "NotFound"):
        return
    asked = answer.payload.get("certificateType") or []
    types = [asked] if isinstance(asked, str) else list(asked)
    chains = (
        answer.response.get("certificateHashDataChain")
        or answer.response.get("certificateHashData")
        or []
    )
    services.installed_reported(answer.station_id, types, chains)


# --- DeleteCertificate (M04) ----------------------------------------------------------------------


@dataclass(frozen=True)
class DeleteInput(FormInput):
    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str

    fields = (
        Text("hash_algorithm", "Hash algorithm", placeholder="SHA256"),
        Text("issuer_name_hash", "Issuer name hash"),
        Text("issuer_key_hash", "Issuer key hash"),
        Text("serial_number", "Serial number"),
    )


def _delete(value: DeleteInput, target: Target) -> dict[str, Any]:
    return {
        "certificateHashData": {
            "hashAlgorithm": value.hash_algorithm,
            "issuerNameHash": value.issuer_name_hash,
            "issuerKeyHash": value.issuer_key_hash,
            "serialNumber": value.serial_number,
        }
    }


register(
    CommandSpec(
        "delete-certificate",
        "Delete a certificate",
        {V16: "DeleteCertificate", V201: "DeleteCertificate"},
        DeleteInput,
        _delete,
        default=_no_certificate,
        on_page=False,  # each installed certificate's row has its button
    )
)


@records("DeleteCertificate")
def _deleted(answer: Answer) -> None:
    status = str(answer.response.get("status", ""))
    services.deleted(answer.station_id, answer.payload["certificateHashData"], status, answer.user)


# --- CertificateSigned (A02/A03): the CSMS's own, recorded ---------------------------------------


register(
    CommandSpec(
        "certificate-signed",
        "Send a signed certificate",
        {V16: "CertificateSigned", V201: "CertificateSigned"},
        # No operator form: the CSMS sends it with what its authority signed; REST may send one.
    )
)


@records("CertificateSigned")
def _signed_answered(answer: Answer) -> None:
    why = status_info(answer.response.get("statusInfo"))
    if not answer.answered:
        why = f"not answered: {answer.result.outcome}"
    services.chain_answered(
        answer.station_id,
        str(answer.payload.get("certificateChain", "")),
        str(answer.response.get("status", "")),
        why,
    )


# --- 1.6 ExtendedTriggerMessage (the whitepaper) ---------------------------------------------------

EXTENDED = (
    "SignChargePointCertificate",
    "LogStatusNotification",
    "FirmwareStatusNotification",
    "BootNotification",
    "Heartbeat",
    "MeterValues",
    "StatusNotification",
)


@dataclass(frozen=True)
class ExtendedTriggerInput(FormInput):
    message: str = "SignChargePointCertificate"

    fields = (
        Choice(
            "message",
            "Message",
            tuple((m, m) for m in EXTENDED),
            default="SignChargePointCertificate",
        ),
    )


register(
    CommandSpec(
        "extended-trigger",
        "Extended trigger message",
        {V16: "ExtendedTriggerMessage"},
        ExtendedTriggerInput,
        lambda value, target: {"requestedMessage": value.message},
        on_page=False,
    )
)


# --- renewal (A02: the CSMS asks the station for a new CSR) ----------------------------------------


async def renew(
    station_id: str, protocol: str, kind: str, *, user: Any, source: str
) -> CommandResult:
    """Ask the station to renew its certificate: TriggerMessage SignChargingStationCertificate
    (or SignV2GCertificate) in 2.0.1, ExtendedTriggerMessage SignChargePointCertificate in 1.6.
    The SignCertificate that follows is checked, signed and delivered as any other."""
    if protocol == V16:
        action, payload = (
            "ExtendedTriggerMessage",
            {"requestedMessage": "SignChargePointCertificate"},
        )
    else:
        message = (
            "SignV2GCertificate" if kind == "V2GCertificate" else "SignChargingStationCertificate"
        )
        action, payload = "TriggerMessage", {"requestedMessage": message}
    return await send_command(station_id, action, payload, requested_by=user, source=source)
