"""The collector's tuning (csms_site/gc_tuning.py): GC_THRESHOLDS read strictly, applied once the
application is imported."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from csms_site.gc_tuning import DEFAULT, thresholds, tune
from tests.servers import ROOT


@pytest.mark.parametrize(
    "value, expected",
    [(DEFAULT, (10000, 20, 100)), (" 700, 10,10 ", (700, 10, 10)), ("", None), ("  ", None)],
)
def test_thresholds_are_three_positive_integers_or_python_defaults(value, expected):
    assert thresholds(value) == expected


@pytest.mark.parametrize("value", ["1,2", "1,2,3,4", "a,b,c", "0,10,10", "-1,10,10"])
def test_a_bad_gc_thresholds_setting_is_refused_with_a_message(value):
    with pytest.raises(ValueError, match="GC_THRESHOLDS must be three positive integers"):
        thresholds(value)


def test_no_thresholds_leaves_the_collector_alone():
    before = gc.get_threshold()
    assert tune(None) is None
    assert gc.get_threshold() == before


def test_the_served_application_is_frozen_and_tuned():
    """In a fresh process, as a server imports it: everything imported is frozen, the thresholds
    are the setting's."""
    script = (
        "import gc, os; os.environ['SECRET_KEY'] = 'x'; os.environ['GC_THRESHOLDS'] = '5000,15,50';"
        "import csms_site.asgi; print(gc.get_freeze_count() > 10000, gc.get_threshold())"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[-2] == "True (5000, 15, 50)"
