# The CSMS image: Django + Channels served by uvicorn. Configuration comes from the environment
# (see README "Settings"); docker-compose.yml runs it with PostgreSQL and Redis.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, so that a code change does not reinstall them. uvicorn is the production
# ASGI server (it can refuse a handshake with 401/404; daphne only with 403).
COPY pyproject.toml README.md ./
COPY csms_site ./csms_site
COPY ocppj ./ocppj
COPY stations ./stations
COPY reservations ./reservations
COPY emulator ./emulator
RUN pip install . "uvicorn[standard]>=0.30"

COPY manage.py ./
COPY templates ./templates

# Static files for the admin, served by WhiteNoise. Build-time settings only: nothing here is used
# at run time.
RUN SECRET_KEY=collectstatic-only DEBUG=0 python manage.py collectstatic --no-input

RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin csms
USER csms

EXPOSE 8000

# --ws-max-size: refuse frames above OCPP_MAX_FRAME_BYTES (default 65536) in the transport.
CMD ["uvicorn", "csms_site.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--workers", "2", "--ws-max-size", "65536"]
