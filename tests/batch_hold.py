"""A hook of the crash tests' servers (OCPP_DB_BATCH_OBSERVER, tests/crash_settings.py): it lets a
test SIGKILL the CSMS while a batch of several stations' writes is applied but not committed.

While the file named by CSMS_TEST_HOLD_BATCH exists, the next batch of two or more writes is held
open inside its transaction and says so on stdout (`HELD` and its size), until the test kills the
server. A batch of one write, meanwhile, waits until two more are queued behind it, so that the
next batch holds several stations' messages. Without the file the hook only looks for it.
"""

from __future__ import annotations

import os
import sys
import threading
import time

from stations import group_commit

HELD = "crash-server: batch held open: "
QUEUE_WAIT_SECONDS = 5.0  # at most, for two writes to queue behind a batch of one
_SAYING = threading.Lock()  # PostgreSQL's lanes may hold two batches at once: one line each


def hold(size: int) -> None:
    path = os.environ.get("CSMS_TEST_HOLD_BATCH", "")
    if not path or not os.path.exists(path):
        return
    if size < 2:
        deadline = time.monotonic() + QUEUE_WAIT_SECONDS
        while group_commit.pending() < 2 and time.monotonic() < deadline:
            time.sleep(0.002)  # in the server's writer thread, not in a test
        return
    with _SAYING:  # print() writes the text and its newline apart: two lanes would mix them
        sys.stdout.write(f"{HELD}{size}\n")
        sys.stdout.flush()
    threading.Event().wait()  # applied, not committed: until SIGKILL
