"""`manage.py make_certificates DIR --station CP_1 [--station CP_2 ...]`: a CA, the CSMS's server
certificate and stations' client certificates, for TLS (security profiles 2 and 3) on a local
deployment or a lab. An existing CA in DIR (ca.pem, ca.key) is reused, so stations can be added
later.

    python manage.py make_certificates certs --host localhost --host 127.0.0.1 --station CP_1
    uvicorn csms_site.asgi:application --ws csms_site.uvicorn_ws:LeanWebSocketProtocol \\
        --ssl-certfile certs/server.pem --ssl-keyfile certs/server.key \\
        --ssl-ca-certs certs/ca.pem --ssl-cert-reqs 1
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.management.base import BaseCommand, CommandError, CommandParser

from stations import certificates
from stations.identity import is_valid_identity


class Command(BaseCommand):
    help = "Make a CA, the CSMS's TLS certificate and stations' client certificates."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("folder", help="where the certificates go")
        parser.add_argument("--host", action="append", default=[], help="the CSMS's host or IP")
        parser.add_argument(
            "--station", action="append", default=[], help="a station identity (its CN)"
        )
        parser.add_argument("--days", type=int, default=certificates.DAYS)

    def handle(self, *args: Any, **options: Any) -> None:
        folder = Path(options["folder"])
        for identity in options["station"]:
            if not is_valid_identity(identity):
                raise CommandError(f"Not a station identity: {identity!r}")
        ca_cert, ca_key = folder / "ca.pem", folder / "ca.key"
        if ca_cert.exists() and ca_key.exists():
            loaded = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
            if not isinstance(loaded, ec.EllipticCurvePrivateKey):
                raise CommandError(f"{ca_key} is not the EC key this command makes")
            ca = certificates.Issued(x509.load_pem_x509_certificate(ca_cert.read_bytes()), loaded)
            self.stdout.write(f"Using the CA in {ca_cert}")
        else:
            ca = certificates.authority()
            ca.write(folder, "ca")
            self.stdout.write(f"CA: {ca_cert} (keep {ca_key} safe)")
        hosts = options["host"] or (["localhost", "127.0.0.1"] if not options["station"] else [])
        if hosts:
            cert, key = certificates.server(ca, hosts, days=options["days"]).write(folder, "server")
            self.stdout.write(f"Server certificate for {', '.join(hosts)}: {cert}, {key}")
        for identity in options["station"]:
            cert, key = certificates.station(ca, identity, days=options["days"]).write(
                folder, identity
            )
            self.stdout.write(f"{identity}: {cert}, {key}")
