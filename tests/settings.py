"""Test settings: production-like defaults (auto-registration and accept-all off) on a file database,
so real ASGI server processes started by the tests can open the same test database."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "tests-only-insecure-key")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("OCPP_AUTO_REGISTER", "0")
os.environ.setdefault("OCPP_ACCEPT_UNKNOWN_ID_TOKENS", "0")
os.environ.setdefault("OCPP_REQUIRE_PASSWORD", "0")
# The local-list sync job sends what is due on its own; tests that send lists themselves must not
# race it (tests/test_local_lists.py starts a server of its own to test the job).
os.environ.setdefault("OCPP_LOCAL_LIST_SYNC_SECONDS", "3600")
# Likewise firmware campaigns: on SQLite every test server runs the cluster jobs, and one that is
# not the station's would send a campaign's updates where the station is not (a test server's
# channel layer is its own). Campaign tests start a server of their own that ticks fast.
os.environ.setdefault("OCPP_CAMPAIGN_TICK_SECONDS", "3600")
os.environ.setdefault("OCPP_LOAD_TICK_SECONDS", "3600")  # load management: the same reason
os.environ.setdefault("OCPP_COST_UPDATE_SECONDS", "3600")  # and running costs
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
# Uploaded logs and firmware of this pytest process and the servers it starts (they inherit it).
os.environ.setdefault("CSMS_MEDIA_ROOT", tempfile.mkdtemp(prefix="csms-test-media-"))
# The CSMS's certificate authority, made on first use, shared with the servers tests start.
os.environ.setdefault("CSMS_CA_DIR", tempfile.mkdtemp(prefix="csms-test-ca-"))

from csms_site.settings import *  # noqa: F403
from csms_site.settings import DATABASES, STORAGES

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file (server processes started by tests open it too), one per pytest process so that
    # concurrent runs never share it.
    DATABASES["default"]["TEST"] = {
        "NAME": os.path.join(tempfile.gettempdir(), f"csms-test-{os.getpid()}.sqlite3")
    }
else:
    # One test database per pytest process, so concurrent runs on one server never collide.
    DATABASES["default"]["TEST"] = {"NAME": f"test_csms_{os.getpid()}"}

# Pages render without `collectstatic` having run.
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Real servers started by tests serve the dashboard's static files over plain HTTP.
WHITENOISE_USE_FINDERS = True
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # user logins only: fast tests
OCPP_MESSAGE_LOG_FLUSH_SECONDS = 0.05
OCPP_PRESENCE_FLUSH_SECONDS = 0.05
# Worker threads of the test process must not keep connections open past a test: PostgreSQL cannot
# drop the test database while a session is still attached to it.
DATABASES["default"]["CONN_MAX_AGE"] = 0
# ...and no PostgreSQL pool: connections taken by the test process's many short-lived threads would
# not all come back, and the pool would run dry. `tests/test_db_pool.py` runs a server on the
# production settings, pool included.
DATABASES["default"].get("OPTIONS", {}).pop("pool", None)
