"""Settings of the servers tests/test_lifespan*.py start: the test settings, but the flush intervals
(fixed at 0.05 s there) and the cluster lock's name come from the environment, so that a test can
make the shutdown the only flush, or give its servers a lock of their own on the shared test
database."""

import os

from csms_site.env import env_float
from tests.settings import *  # noqa: F403

OCPP_MESSAGE_LOG_FLUSH_SECONDS = env_float("OCPP_MESSAGE_LOG_FLUSH_SECONDS", 0.05)
OCPP_PRESENCE_FLUSH_SECONDS = env_float("OCPP_PRESENCE_FLUSH_SECONDS", 0.05)
BACKGROUND_LOCK_NAME = os.environ.get("BACKGROUND_LOCK_NAME", "csms cluster jobs")
