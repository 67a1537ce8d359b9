# The CSMS image: Django + Channels served by uvicorn; also runs `manage.py emulate` (the emulator
# service of docker-compose.yml). Configuration comes from the environment (docs/settings.md);
# docker-compose.yml runs it behind nginx with PostgreSQL, Redis and Jaeger.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, from the runtime lock alone (every package at the version and with the
# hashes `make lock` recorded from pyproject.toml's dependencies; uvicorn[standard] is one: the
# production ASGI server), so that a code change does not reinstall them. The code then runs from
# /app, as `manage.py` expects.
COPY requirements/lock.txt ./requirements/lock.txt
RUN pip install -r requirements/lock.txt && pip check

COPY manage.py ./
COPY csms_site ./csms_site
COPY ocppj ./ocppj
COPY stations ./stations
COPY reservations ./reservations
COPY devicemodel ./devicemodel
COPY locallists ./locallists
COPY monitoring ./monitoring
COPY displays ./displays
COPY diagnostics ./diagnostics
COPY certificates ./certificates
COPY firmware ./firmware
COPY smartcharging ./smartcharging
COPY sites ./sites
COPY emulator ./emulator
COPY dashboard ./dashboard
COPY templates ./templates

# Static files (admin, dashboard, API docs), served by WhiteNoise. Build-time settings only: nothing
# here is used at run time.
RUN SECRET_KEY=collectstatic-only DEBUG=0 python manage.py collectstatic --no-input

RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin csms \
    && mkdir -p /var/lib/csms/media && chown csms /var/lib/csms/media
USER csms

EXPOSE 8000

# GET /health/ (database and channel layer) must answer 200. The emulator service turns it off.
HEALTHCHECK --interval=15s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-m", "csms_site.health", "http://127.0.0.1:8000/health/"]

# --ws-max-size: refuse frames above OCPP_MAX_FRAME_BYTES (default 65536) in the transport.
# docker-compose.yml adds the proxy options and the number of workers (CSMS_WORKERS).
# --lifespan on: the lifespan starts the background jobs and flushes their buffers on stop.
CMD ["uvicorn", "csms_site.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--workers", "2", "--ws-max-size", "65536", "--ws", "csms_site.uvicorn_ws:LeanWebSocketProtocol", "--lifespan", "on"]
