"""Certificate management on the CSMS's side (OCPP 2.0.1 A02/A03, M03-M05; the 1.6 security
whitepaper's SignCertificate, CertificateSigned, InstallCertificate, DeleteCertificate,
GetInstalledCertificateIds and ExtendedTriggerMessage).

In process, exact frames:
- A03: a valid CSR is answered Accepted, and only then does CertificateSigned arrive, with a chain
  (leaf first) from the CSMS's authority: the CSR's subject and key, client authentication, the CA;
  a Rejected CertificateSigned is recorded (TC_A_14_CSMS);
- the CSR rules: not PEM, a CN other than the identity (no station gets another's certificate),
  an O other than the station's organization, a weak key: Rejected with the reason (2.0.1
  statusInfo InvalidCSR), nothing signed.
Live, with the emulator:
- A02 (TC_A_11-like): a renewal from REST triggers the CSR; the certificate ends installed, with
  its expiry, in both versions (1.6 through ExtendedTriggerMessage);
- M05, M03, M04: the CSMS's root installed, listed and deleted, in both versions.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings

from certificates import services
from certificates.models import InstalledCertificate, SigningRequest
from devicemodel.models import Component, Variable, VariableAttribute
from stations.clock import utcnow
from tests.emulated import running
from tests.live_api import LiveApi, staff_token

pytestmark = pytest.mark.django_db(transaction=True)


def make_csr(common_name: str, organization: str = "CSMS-Emulator", key=None) -> str:
    key = key or ec.generate_private_key(ec.SECP256R1())
    names = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        names.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    request = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names))
    return request.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


async def test_a03_a_valid_csr_is_accepted_then_signed_and_delivered(booted, version):
    key = ec.generate_private_key(ec.SECP256R1())
    payload = {"csr": make_csr("CP_1", key=key)}
    if version == "2.0.1":
        payload["certificateType"] = "ChargingStationCertificate"
    assert await booted.result("SignCertificate", payload) == {"status": "Accepted"}
    call = await booted.receive()  # after the answer, never before it
    assert call[0] == 2 and call[2] == "CertificateSigned"
    if version == "2.0.1":  # the request named the type: so does the answer
        assert call[3]["certificateType"] == "ChargingStationCertificate"
    chain = x509.load_pem_x509_certificates(call[3]["certificateChain"].encode())
    leaf, ca = chain
    assert leaf.public_key() == key.public_key()
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CP_1"
    assert leaf.issuer == ca.subject
    leaf.verify_directly_issued_by(ca)
    usage = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in usage
    ca_on_disk = x509.load_pem_x509_certificate(
        (Path(settings.CSMS_CA_DIR) / "ca.pem").read_bytes()
    )
    assert ca == ca_on_disk
    await booted.send([3, call[1], {"status": "Accepted"}])
    request = await until_state("CP_1", SigningRequest.State.INSTALLED)
    assert request.serial_number == format(leaf.serial_number, "x")
    assert request.not_after == leaf.not_valid_after_utc


async def test_tc_a_14_a_certificate_the_station_rejects_is_recorded(booted, version):
    assert await booted.result("SignCertificate", {"csr": make_csr("CP_1")}) == {
        "status": "Accepted"
    }
    call = await booted.receive()
    await booted.send([3, call[1], {"status": "Rejected"}])
    request = await until_state("CP_1", SigningRequest.State.REFUSED)
    assert request.certificate.startswith("-----BEGIN CERTIFICATE-----")


@pytest.mark.parametrize(
    ("csr", "reason"),
    [
        ("not a csr", "not a PEM"),
        (make_csr("CP_2"), "not the station's identity"),
        (make_csr("CP_1", key=rsa.generate_private_key(65537, 1024)), "too weak"),
        (make_csr("CP_1", key=ec.generate_private_key(ec.SECP192R1())), "too weak"),
    ],
)
async def test_a02_a03_a_csr_breaking_the_rules_is_rejected_with_its_reason(
    booted, version, csr, reason
):
    answer = await booted.result("SignCertificate", {"csr": csr})
    assert answer["status"] == "Rejected"
    if version == "2.0.1":
        assert answer["statusInfo"]["reasonCode"] == "InvalidCSR"
        assert reason in answer["statusInfo"]["additionalInfo"]
    request = await SigningRequest.objects.aget(station_id="CP_1")
    assert request.state == SigningRequest.State.REJECTED and reason in request.problem
    assert await booted.heartbeat()  # no CertificateSigned came in between


async def test_a02_the_csr_names_the_organization_the_station_reports(booted, version):
    component = await Component.objects.acreate(
        station_id="CP_1",
        name="SecurityCtrlr" if version == "2.0.1" else "OCPP16Configuration",
    )
    variable = await Variable.objects.acreate(
        component=component, name="OrganizationName" if version == "2.0.1" else "CpoName"
    )
    await VariableAttribute.objects.acreate(
        variable=variable, type="Actual", value="Acme Charging", value_known=True
    )
    answer = await booted.result("SignCertificate", {"csr": make_csr("CP_1", "Other Ltd")})
    assert answer["status"] == "Rejected"
    answer = await booted.result("SignCertificate", {"csr": make_csr("CP_1", "Acme Charging")})
    assert answer == {"status": "Accepted"}
    await booted.receive()


async def until_state(
    station_id: str, state: str, timeout: float = 10.0, newer_than: int = 0
) -> SigningRequest:
    """The station's newest signing request once it is in `state` (and newer than a pk)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await SigningRequest.objects.filter(
            station_id=station_id, pk__gt=newer_than
        ).afirst()
        if found is not None and found.state == state:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{station_id}: {found and found.state!r}, not {state!r}")
        await asyncio.sleep(0.05)  # another process (or the consumer's task) writes it


async def test_an_installed_certificate_near_its_end_is_due_for_renewal(make_station):
    await make_station("CP_1")
    now = utcnow()
    old = await SigningRequest.objects.acreate(
        station_id="CP_1",
        kind="ChargingStationCertificate",
        csr="x",
        state="installed",
        not_after=now + timedelta(days=10),
    )
    due = await asyncio.to_thread(lambda: list(services.expiring().values_list("pk", flat=True)))
    assert due == [old.pk]
    await SigningRequest.objects.acreate(
        station_id="CP_1",
        kind="ChargingStationCertificate",
        csr="x",
        state="installed",
        not_after=now + timedelta(days=365),
    )
    due = await asyncio.to_thread(lambda: list(services.expiring().values_list("pk", flat=True)))
    assert due == []  # renewed: the newer one is not due


@pytest.mark.live
@pytest.mark.parametrize("version", ["2.0.1", "1.6"])
async def test_a02_a_renewal_from_rest_ends_with_the_certificate_installed(live_uvicorn, version):
    api = LiveApi(live_uvicorn, await staff_token())
    identity = f"CERT_{version.replace('.', '')}"
    async with running(live_uvicorn, identity, version) as station:
        status, answer = await api.call("POST", f"/stations/{identity}/renew-certificate/", {})
        assert (status, answer) == (200, {"status": "Accepted"}), answer
        trigger = "ExtendedTriggerMessage" if version == "1.6" else "TriggerMessage"
        assert [a for a, _ in station.sent_calls()][-1] == trigger
        request = await until_state(identity, SigningRequest.State.INSTALLED)
        protocol: Any = station.protocol
        leaf = protocol.client_certificate[0]  # what the emulator now holds
        assert request.serial_number == format(leaf.serial_number, "x")
        status, listed = await api.call("GET", f"/signing-requests/?station={identity}")
        assert status == 200 and listed["results"][0]["state"] == "installed"


@pytest.mark.live
@pytest.mark.parametrize("version", ["2.0.1", "1.6"])
async def test_m05_m03_m04_a_root_is_installed_listed_and_deleted(live_uvicorn, version):
    api = LiveApi(live_uvicorn, await staff_token())
    identity = f"ROOT_{version.replace('.', '')}"
    root = (Path(settings.CSMS_CA_DIR) / "ca.pem").read_text()
    kind = "CSMSRootCertificate" if version == "2.0.1" else "CentralSystemRootCertificate"
    async with running(live_uvicorn, identity, version) as station:
        _, answer = await api.command(
            identity,
            "InstallCertificate",
            {
                "certificateType": kind,
                "certificate": root,
            },
        )
        assert answer == {"status": "Accepted"}, answer
        installed = await InstalledCertificate.objects.aget(station_id=identity)
        listing: dict[str, Any] = {"certificateType": [kind] if version == "2.0.1" else kind}
        _, answer = await api.command(identity, "GetInstalledCertificateIds", listing)
        assert answer["status"] == "Accepted"
        rows = [r async for r in InstalledCertificate.objects.filter(station_id=identity)]
        assert len(rows) == 1 and rows[0].serial_number == installed.serial_number
        _, answer = await api.command(
            identity, "DeleteCertificate", {"certificateHashData": rows[0].hash_data()}
        )
        assert answer == {"status": "Accepted"}
        protocol: Any = station.protocol
        assert protocol.roots == {kind: []}
        assert (await InstalledCertificate.objects.aget(pk=rows[0].pk)).deleted_at is not None
        _, answer = await api.command(identity, "GetInstalledCertificateIds", listing)
        assert answer["status"] == "NotFound"


async def test_an_operator_renews_installs_and_deletes_from_the_security_page(make_station):
    """In process: the security page's renewal button (A02's trigger), its install form (drawn
    from the declaration), each installed certificate's delete button, and the fleet's list of
    certificates due for renewal."""
    from django.contrib.auth import get_user_model
    from django.test import AsyncClient

    from stations import certificates as tls
    from tests.ocpp_client import OcppTestClient

    await make_station("CP_1")
    station, _, _ = await OcppTestClient.open("CP_1", "2.0.1")
    await station.boot()
    await get_user_model().objects.acreate_user("op", password="pw", is_staff=True)
    browser = AsyncClient()
    await browser.alogin(username="op", password="pw")
    json = {"accept": "application/json"}

    posted = asyncio.ensure_future(
        browser.post(
            "/stations/CP_1/certificates/renew/",
            {"kind": "ChargingStationCertificate"},
            headers=json,
        )
    )
    call = await station.answer()
    assert call[2:] == ["TriggerMessage", {"requestedMessage": "SignChargingStationCertificate"}]
    assert (await posted).json()["ok"]
    assert await station.result("SignCertificate", {"csr": make_csr("CP_1")}) == {
        "status": "Accepted"
    }
    await station.answer({"status": "Accepted"})  # the CertificateSigned
    await until_state("CP_1", SigningRequest.State.INSTALLED)
    page = (await browser.get("/stations/CP_1/security/")).content.decode()
    assert "Installed" in page and 'data-action="install-certificate"' in page

    root = (
        tls.authority("Operator's root")
        .certificate.public_bytes(serialization.Encoding.PEM)
        .decode()
    )
    posted = asyncio.ensure_future(
        browser.post(
            "/stations/CP_1/actions/install-certificate/",
            {"kind": "V2GRootCertificate", "certificate": root},
            headers=json,
        )
    )
    call = await station.answer()
    assert call[2] == "InstallCertificate" and call[3]["certificateType"] == "V2GRootCertificate"
    assert (await posted).status_code == 200
    installed = await InstalledCertificate.objects.aget(station_id="CP_1")
    page = (await browser.get("/stations/CP_1/security/")).content.decode()
    assert f'data-installed="{installed.pk}"' in page
    posted = asyncio.ensure_future(
        browser.post(
            "/stations/CP_1/actions/delete-certificate/",
            {
                "hash_algorithm": installed.hash_algorithm,
                "issuer_name_hash": installed.issuer_name_hash,
                "issuer_key_hash": installed.issuer_key_hash,
                "serial_number": installed.serial_number,
            },
            headers=json,
        )
    )
    call = await station.answer()
    assert call[2:] == ["DeleteCertificate", {"certificateHashData": installed.hash_data()}]
    await posted
    page = (await browser.get("/stations/CP_1/security/")).content.decode()
    assert f'data-installed="{installed.pk}"' not in page

    # A bad PEM never reaches the station.
    response = await browser.post(
        "/stations/CP_1/actions/install-certificate/",
        {"kind": "V2GRootCertificate", "certificate": "junk"},
        headers=json,
    )
    assert response.status_code == 400 and "not a PEM" in response.json()["message"]

    await SigningRequest.objects.filter(station_id="CP_1").aupdate(
        not_after=utcnow() + timedelta(days=3)
    )
    page = (await browser.get("/certificates/")).content.decode()
    assert "/stations/CP_1/security/" in page
    await station.close()


@pytest.mark.live
async def test_a02_the_renewal_job_asks_for_a_certificate_about_to_expire(django_db_blocker):
    """A server whose renewal job runs every half second: a connected station whose certificate
    expires in 5 days is asked for a new CSR, once, and ends with a new certificate installed."""
    from tests.servers import AsgiServer

    server = await asyncio.to_thread(
        lambda: AsgiServer("uvicorn", env={"OCPP_CERTIFICATE_RENEW_CHECK_SECONDS": "0.5"}).start()
    )
    try:
        async with running(server, "RENEW_1") as station:
            old = await SigningRequest.objects.acreate(
                station_id="RENEW_1",
                kind="ChargingStationCertificate",
                csr="x",
                state="installed",
                not_after=utcnow() + timedelta(days=5),
            )
            await station.until(lambda: station.answered.count("SignCertificate") >= 1, 10)
            new = await until_state("RENEW_1", SigningRequest.State.INSTALLED, newer_than=old.pk)
            assert new.not_after and old.not_after and new.not_after > old.not_after
            assert (await SigningRequest.objects.aget(pk=old.pk)).renewal_asked_at is not None
            triggers = [p for a, p in station.sent_calls() if a == "TriggerMessage"]
            assert triggers == [{"requestedMessage": "SignChargingStationCertificate"}]
    finally:
        await asyncio.to_thread(server.stop)


@pytest.mark.live
async def test_a02_a_station_given_a_certificate_by_the_csms_connects_at_profile_3_with_it(
    tmp_path,
):
    """The whole path over real TLS: an emulated station connected over wss:// is renewed, gets
    a certificate from the CSMS's own authority, is raised to security profile 3, and after its
    next reconnect is admitted on that certificate alone (its CN is its identity)."""
    import ssl

    from certificates.authority import LocalAuthority
    from stations import certificates as tls
    from stations.models import Station, StationEvent
    from tests.servers import AsgiServer

    folder = Path(settings.CSMS_CA_DIR)
    authority = await asyncio.to_thread(LocalAuthority.from_folder, folder)
    ca = tls.Issued(authority.certificate, authority.key)  # type: ignore[arg-type]  # EC, as made
    cert, key = tls.server(ca, ["127.0.0.1"]).write(tmp_path, "server")
    args = [
        "--ssl-certfile", str(cert), "--ssl-keyfile", str(key),
        "--ssl-ca-certs", str(folder / "ca.pem"), "--ssl-cert-reqs", str(int(ssl.CERT_OPTIONAL)),
    ]  # fmt: skip
    server = await asyncio.to_thread(lambda: AsgiServer("uvicorn", args=args).start())
    try:
        context = ssl.create_default_context(cafile=str(folder / "ca.pem"))

        class Wss:
            url = f"wss://127.0.0.1:{server.port}"

        api = LiveApi(server, await staff_token(), tls=context)
        async with running(Wss, "TLS_RENEW", ssl_context=context) as station:
            _, answer = await api.call("POST", "/stations/TLS_RENEW/renew-certificate/", {})
            assert answer == {"status": "Accepted"}, answer
            await until_state("TLS_RENEW", SigningRequest.State.INSTALLED)
            await Station.objects.filter(pk="TLS_RENEW").aupdate(security_profile=3)
            before = (await Station.objects.aget(pk="TLS_RENEW")).session
            station.close_connection(reconnect_now=True)
            deadline = asyncio.get_running_loop().time() + 15
            while (await Station.objects.aget(pk="TLS_RENEW")).session == before:
                assert asyncio.get_running_loop().time() < deadline, server.output()[-3000:]
                await asyncio.sleep(0.05)  # the server process admits it
            refused = StationEvent.objects.filter(
                station_id="TLS_RENEW", type="SecurityProfileViolation"
            )
            assert not await refused.aexists()
    finally:
        await asyncio.to_thread(server.stop)
