"""Log retrieval end to end (OCPP 2.0.1 N01, the 1.6 security whitepaper's GetLog, 1.6
GetDiagnostics; the CSMS's side): a real server, the emulator as the station, the file uploaded
over HTTP to the CSMS's own upload endpoint and downloaded by an operator.

- N01 (TC_N_35_CSMS): GetLog with the CSMS's upload URL, the LogStatusNotifications of the same
  requestId (Uploading, Uploaded) recorded in order, the file stored with its size and SHA-256;
- TC_N_34_CSMS: a Rejected GetLog is recorded and its upload URL revoked;
- TC_N_36_CSMS: a second request cancels the first (AcceptedCanceled on the first's requestId);
- the upload endpoint: unknown tokens 404 before the body is read, 413 above OCPP_UPLOAD_MAX_BYTES
  (declared or streamed), 405 for GET, a multipart POST accepted, a finished request's URL 410.
"""

from __future__ import annotations

import asyncio
import hashlib
import urllib.error
import urllib.request
from typing import Any

import pytest

from diagnostics.models import LogRequest
from tests.emulated import running
from tests.live_api import LiveApi, staff_token
from tests.ocpp_client import LiveClient
from tests.servers import AsgiServer

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

TIMEOUT = 10.0


def http(
    method: str, url: str, body: bytes | None = None, headers: dict | None = None
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


async def until_status(station_id: str, request_id: int, status: str) -> LogRequest:
    """The request once it reached `status` (its answer and notifications are written by the
    server process)."""
    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while True:
        found = await LogRequest.objects.filter(
            station_id=station_id, request_id=request_id
        ).afirst()
        if found is not None and found.status == status:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(
                f"{station_id} #{request_id}: {found and found.status!r}, not {status}"
            )
        await asyncio.sleep(0.05)  # polling the database another process writes


def own_location(server: Any) -> str:
    return f"{server.http_url}/uploads/logs/"


async def test_n01_tc_n_35_get_log_uploads_to_the_csms_and_an_operator_downloads_it(live_uvicorn):
    api = LiveApi(live_uvicorn, await staff_token())
    async with running(live_uvicorn, "LOG_1") as station:
        payload = {
            "logType": "SecurityLog",
            "requestId": 501,
            "log": {"remoteLocation": own_location(live_uvicorn)},
        }
        status, answer = await api.command("LOG_1", "GetLog", payload)
        assert (status, answer["status"]) == (200, "Accepted"), answer
        sent = [p for a, p in station.sent_calls() if a == "GetLog"][-1]
        url = sent["log"]["remoteLocation"]
        assert (
            url.startswith(own_location(live_uvicorn))
            and len(url) > len(own_location(live_uvicorn)) + 40
        )
        log = await until_status("LOG_1", 501, "Uploaded")
        assert [h["status"] for h in log.history] == ["Uploading", "Uploaded"]
        assert (log.kind, log.answer, log.filename) == (
            "SecurityLog",
            "Accepted",
            "LOG_1-SecurityLog.log",
        )
        assert log.file and log.uploaded_at is not None

        status, listed = await api.call("GET", "/log-requests/?station=LOG_1")
        assert status == 200 and listed["count"] == 1
        row = listed["results"][0]
        assert row["state"] == "Uploaded" and row["file_url"].endswith(
            f"/api/log-requests/{log.pk}/file/"
        )
        content = await asyncio.to_thread(
            http, "GET", row["file_url"], None, {"Authorization": f"Token {api.token}"}
        )
        assert content[0] == 200 and b"LOG_1 SecurityLog" in content[1]
        assert (
            row["size"] == len(content[1])
            and row["sha256"] == hashlib.sha256(content[1]).hexdigest()
        )
        # The station's token is spent: the URL takes nothing more, and nobody else reads the file.
        assert (await asyncio.to_thread(http, "PUT", url, b"again"))[0] == 410
        assert (await asyncio.to_thread(http, "GET", row["file_url"]))[0] == 401


async def test_1_6_get_diagnostics_and_the_whitepapers_get_log_upload(live_uvicorn):
    api = LiveApi(live_uvicorn, await staff_token())
    async with running(live_uvicorn, "LOG_16", "1.6") as station:
        # The default payload names the CSMS's own upload address; sent, it gets a token.
        status, default = await api.call("GET", "/stations/LOG_16/commands/GetDiagnostics/")
        assert status == 200 and default["payload"] == {"location": own_location(live_uvicorn)}
        status, answer = await api.command("LOG_16", "GetDiagnostics", default["payload"])
        assert status == 200 and answer["fileName"] == "LOG_16-diagnostics.log", answer
        first = await LogRequest.objects.aget(station_id="LOG_16", kind="Diagnostics")
        log = await until_status("LOG_16", first.request_id, "Uploaded")
        assert [h["status"] for h in log.history] == ["Uploading", "Uploaded"]
        assert log.answer == "Accepted" and log.size and log.size > 10

        status, answer = await api.command(
            "LOG_16",
            "GetLog",
            {
                "logType": "DiagnosticsLog",
                "requestId": 77,
                "log": {"remoteLocation": own_location(live_uvicorn)},
            },
        )
        assert answer["status"] == "Accepted"
        log = await until_status("LOG_16", 77, "Uploaded")
        assert log.file and station.answered.count("LogStatusNotification") == 2


async def test_an_integrators_own_location_is_kept_and_a_failed_upload_recorded(live_uvicorn):
    api = LiveApi(live_uvicorn, await staff_token())
    async with running(live_uvicorn, "LOG_2") as station:
        payload = {
            "logType": "DiagnosticsLog",
            "requestId": 9,
            "log": {"remoteLocation": "ftp://logs.example.org/in/"},
        }
        _, answer = await api.command("LOG_2", "GetLog", payload)
        assert answer["status"] == "Accepted"
        assert [p for a, p in station.sent_calls() if a == "GetLog"][-1]["log"][
            "remoteLocation"
        ] == "ftp://logs.example.org/in/"
        log = await until_status("LOG_2", 9, "UploadFailure")  # the emulator speaks only HTTP
        assert log.remote_location == "ftp://logs.example.org/in/" and not log.token_hash


async def test_tc_n_34_rejected_and_tc_n_36_a_second_request_cancels_the_first(live_uvicorn):
    api = LiveApi(live_uvicorn, await staff_token())
    await LogRequest.objects.all().adelete()
    from stations.models import Station

    await Station.objects.acreate(id="LOG_3")
    async with await LiveClient.open(live_uvicorn.url, "LOG_3") as client:
        await client.boot()

        async def station_says(status: str) -> list:
            return await client.answer({"status": status, "filename": "x.log"})

        location = {"remoteLocation": own_location(live_uvicorn)}
        rejected = asyncio.ensure_future(
            api.command(
                "LOG_3", "GetLog", {"logType": "DiagnosticsLog", "requestId": 1, "log": location}
            )
        )
        call = await station_says("Rejected")
        assert (await rejected)[1]["status"] == "Rejected"
        log = await LogRequest.objects.aget(station_id="LOG_3", request_id=1)
        assert log.state == "Rejected"
        assert (await asyncio.to_thread(http, "PUT", call[3]["log"]["remoteLocation"], b"x"))[
            0
        ] == 410

        first = asyncio.ensure_future(
            api.command(
                "LOG_3", "GetLog", {"logType": "DiagnosticsLog", "requestId": 2, "log": location}
            )
        )
        await station_says("Accepted")
        await first
        assert (
            await client.result("LogStatusNotification", {"status": "Uploading", "requestId": 2})
            == {}
        )
        second = asyncio.ensure_future(
            api.command(
                "LOG_3", "GetLog", {"logType": "DiagnosticsLog", "requestId": 3, "log": location}
            )
        )
        await station_says("AcceptedCanceled")
        assert (await second)[1]["status"] == "AcceptedCanceled"
        assert (
            await client.result(
                "LogStatusNotification", {"status": "AcceptedCanceled", "requestId": 2}
            )
            == {}
        )
        assert (
            await client.result("LogStatusNotification", {"status": "Uploading", "requestId": 3})
            == {}
        )
        # Resent (the answer was lost): recorded once.
        assert (
            await client.result(
                "LogStatusNotification", {"status": "AcceptedCanceled", "requestId": 2}
            )
            == {}
        )
        # Idle, triggered, without a request: about none.
        assert await client.result("LogStatusNotification", {"status": "Idle"}) == {}
        old = await LogRequest.objects.aget(station_id="LOG_3", request_id=2)
        new = await LogRequest.objects.aget(station_id="LOG_3", request_id=3)
        assert [h["status"] for h in old.history] == ["Uploading", "AcceptedCanceled"]
        assert old.finished and (new.answer, new.status) == ("AcceptedCanceled", "Uploading")


@pytest.fixture(scope="module")
def small_uploads(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        server = AsgiServer("uvicorn", env={"OCPP_UPLOAD_MAX_BYTES": "1000"}).start()
    yield server
    server.stop()


async def test_the_upload_endpoint_refuses_what_it_must(small_uploads):
    from channels.db import database_sync_to_async

    from diagnostics import services
    from diagnostics.services import LogOrder
    from stations.models import Station

    await Station.objects.acreate(id="LOG_4")
    base = own_location(small_uploads)

    @database_sync_to_async
    def new_url(request_id: int) -> str:
        location = services.open_request("LOG_4", LogOrder(), request_id, None)
        return small_uploads.http_url + location[location.index("/uploads/") :]

    assert (await asyncio.to_thread(http, "PUT", base + "not-a-token/", b"x"))[0] == 404
    url = await new_url(1)
    assert (await asyncio.to_thread(http, "GET", url))[0] == 405
    status, body = await asyncio.to_thread(http, "PUT", url, b"x" * 1001)
    assert status == 413 and b"1000 bytes" in body  # declared too large: refused unread

    def streamed(url: str, size: int) -> int:
        """A chunked body (no Content-Length): refused once it passes the limit."""

        def chunks():
            for _ in range(size // 100):
                yield b"y" * 100

        request = urllib.request.Request(url, data=chunks(), method="PUT")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
                return answer.status
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            return 413  # the server answered 413 and closed while the body was still going out

    assert await asyncio.to_thread(streamed, url, 5000) == 413
    assert (await LogRequest.objects.aget(station_id="LOG_4", request_id=1)).size is None

    boundary = "----csms"
    form = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="../../evil.log"\r\n'
        "Content-Type: text/plain\r\n\r\nline one\nline two\n\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    status, body = await asyncio.to_thread(
        http,
        "POST",
        url + "named.log",
        form,
        {"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert status == 201, body
    log = await LogRequest.objects.aget(station_id="LOG_4", request_id=1)
    assert log.size == len(b"line one\nline two\n")
    name = log.file.name or ""
    assert name.endswith("LOG_4-1-evil.log") and ".." not in name
    with log.file.open("rb") as stored:
        assert stored.read() == b"line one\nline two\n"
    # A retry before the station reports the upload finished replaces the file.
    assert (await asyncio.to_thread(http, "PUT", url, b"retried"))[0] == 201
    log = await LogRequest.objects.aget(station_id="LOG_4", request_id=1)
    assert log.size == len(b"retried")

    from datetime import timedelta

    from stations.clock import utcnow

    expired = await new_url(2)
    await LogRequest.objects.filter(station_id="LOG_4", request_id=2).aupdate(
        expires_at=utcnow() - timedelta(seconds=1)
    )
    status, body = await asyncio.to_thread(http, "PUT", expired, b"late")
    assert status == 410 and b"expired" in body


@pytest.mark.django_db(transaction=True)
async def test_an_operator_asks_for_a_log_on_the_security_page_and_downloads_it(make_station):
    """In process: the security page's GetLog form (drawn from the declaration) sends GetLog with
    a URL of the CSMS's own; the page shows the request's state as the station reports it, and the
    operator downloads the file (here stored directly: the upload itself is tested above)."""
    from django.contrib.auth import get_user_model
    from django.core.files.base import ContentFile
    from django.test import AsyncClient

    from tests.ocpp_client import OcppTestClient

    await make_station("CP_1")
    client, _, _ = await OcppTestClient.open("CP_1", "2.0.1")
    await client.boot()
    await get_user_model().objects.acreate_user("op", password="pw", is_staff=True)
    browser = AsyncClient()
    await browser.alogin(username="op", password="pw")
    page = (await browser.get("/stations/CP_1/security/")).content.decode()
    assert 'data-action="get-log"' in page and 'name="kind"' in page
    assert 'data-action="get-diagnostics"' not in page  # a 1.6 command: not for this station

    posted = asyncio.ensure_future(
        browser.post(
            "/stations/CP_1/actions/get-log/",
            {"kind": "SecurityLog", "hours": "24"},
            headers={"accept": "application/json"},
        )
    )
    call = await client.answer({"status": "Accepted", "filename": "security.log"})
    assert (await posted).status_code == 200
    sent = call[3]
    assert sent["logType"] == "SecurityLog" and "oldestTimestamp" in sent["log"]
    assert "/uploads/logs/" in sent["log"]["remoteLocation"]
    assert (
        await client.result(
            "LogStatusNotification", {"status": "Uploaded", "requestId": sent["requestId"]}
        )
        == {}
    )
    page = (await browser.get("/stations/CP_1/security/")).content.decode()
    assert "reported uploaded, nothing received" in page

    log = await LogRequest.objects.aget(station_id="CP_1")
    assert log.requested_by_id is not None and log.state == "Uploaded"

    def keep(request: LogRequest) -> None:
        request.file.save("CP_1-security.log", ContentFile(b"line\n"))

    from channels.db import database_sync_to_async

    await database_sync_to_async(keep)(log)
    page = (await browser.get("/stations/CP_1/security/")).content.decode()
    link = f"/stations/CP_1/logs/{log.pk}/file/"
    assert link in page
    response = await browser.get(link)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"line\n"  # type: ignore[attr-defined]
    assert (await browser.get(f"/stations/OTHER/logs/{log.pk}/file/")).status_code == 404
    await client.close()
