"""Settings of the CSMS servers the crash tests start: the test settings, but with database
connections kept between messages, as a production server keeps them (`tests.settings` closes them
after every use, which the test process needs and a server does not). A connection broken by a
killed peer or a database outage must then be noticed and replaced, as in production.

Per-thread persistent connections, not PostgreSQL's pool: these servers are forked from a parent
that imported the application, and a pool's worker threads do not survive a fork."""

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES

DATABASES["default"].get("OPTIONS", {}).pop("pool", None)
DATABASES["default"]["CONN_MAX_AGE"] = 600

# The crash tests' hook into group commit: a SIGKILL inside a batch (tests/batch_hold.py).
OCPP_DB_BATCH_OBSERVER = "tests.batch_hold.hold"
