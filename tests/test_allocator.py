"""The load allocator's guarantees (smartcharging/allocator.py), as properties over random sites:
no circuit is ever overloaded, every session that charges gets at least its minimum (the others
are paused, lowest priority and latest first), no session exceeds its maximum, and the share is
fair: equal within one priority unless a maximum or a limit stops a session."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartcharging.allocator import EPSILON, Session, allocate, limit_a


def test_ten_sessions_share_a_50_a_circuit_equally():
    sessions = [Session(f"s{i}", (1,)) for i in range(5)]
    result = allocate({1: 50.0}, sessions)
    assert result.currents == {f"s{i}": pytest.approx(10.0) for i in range(5)}
    assert result.paused == []


def test_minimums_that_do_not_fit_pause_the_latest_and_lowest_priority():
    sessions = [Session(f"s{i}", (1,), started=i) for i in range(10)] + [
        Session("vip", (1,), priority=1, started=99)
    ]
    result = allocate({1: 50.0}, sessions)
    assert result.paused == ["s7", "s8", "s9"]  # 8 minimums of 6 A fit in 50 A; vip went first
    assert result.currents["vip"] == pytest.approx(6.0 + 2.0)  # the higher priority takes the rest
    assert all(result.currents[f"s{i}"] == pytest.approx(6.0) for i in range(7))


def test_a_feeder_below_the_main_connection():
    # Main 63 A; feeder A 20 A holds two sessions, three more on the main board.
    sessions = [Session("a1", (2, 1)), Session("a2", (2, 1))] + [
        Session(f"m{i}", (1,)) for i in range(3)
    ]
    result = allocate({1: 63.0, 2: 20.0}, sessions)
    assert result.currents["a1"] == pytest.approx(10.0) and result.currents["a2"] == pytest.approx(
        10.0
    )
    assert all(result.currents[f"m{i}"] == pytest.approx(14.333, abs=0.01) for i in range(3))


def test_a_session_at_its_maximum_leaves_the_rest_to_others():
    sessions = [Session("small", (1,), max_a=8.0), Session("big", (1,), max_a=32.0)]
    assert allocate({1: 30.0}, sessions).currents == {"small": 8.0, "big": pytest.approx(22.0)}


def test_limits_from_current_and_power():
    assert limit_a(50.0, None, 230.0, 3) == 50.0
    assert limit_a(None, 22_080.0, 230.0, 3) == pytest.approx(32.0)
    assert limit_a(50.0, 22_080.0, 230.0, 3) == pytest.approx(32.0)


@st.composite
def sites(draw):
    circuits = draw(st.integers(min_value=1, max_value=4))
    parents = {1: None}
    for c in range(2, circuits + 1):
        parents[c] = draw(st.integers(min_value=1, max_value=c - 1))
    limits = {c: float(draw(st.integers(min_value=6, max_value=120))) for c in parents}
    sessions = []
    for i in range(draw(st.integers(min_value=0, max_value=12))):
        leaf = draw(st.sampled_from(sorted(parents)))
        chain, node = [], leaf
        while node is not None:
            chain.append(node)
            node = parents[node]
        low = float(draw(st.integers(min_value=0, max_value=10)))
        sessions.append(
            Session(f"s{i}", tuple(chain), min_a=low, max_a=low + draw(st.integers(0, 30)),
                    priority=draw(st.integers(0, 2)), started=float(i))
        )  # fmt: skip
    return limits, sessions


@settings(max_examples=300, deadline=None)
@given(sites())
def test_the_guarantees_hold_on_any_site(site):
    limits, sessions = site
    result = allocate(limits, sessions)
    for circuit, limit in limits.items():  # 1. no circuit overloaded
        assert (
            sum(result.currents[s.key] for s in sessions if circuit in s.circuits) <= limit + 1e-3
        )
    for s in sessions:
        current = result.currents[s.key]
        if s.key in result.paused:
            assert current == 0.0
        else:  # 2. at least the minimum, never above the maximum
            assert min(s.min_a, s.max_a) - EPSILON <= current <= s.max_a + 1e-3
    # 3. fairness: within a priority, a session below another is stopped by its maximum or a
    # full circuit above it.
    for s in sessions:
        if s.key in result.paused or result.currents[s.key] >= s.max_a - 1e-3:
            continue
        full = [
            c
            for c in s.circuits
            if sum(result.currents[o.key] for o in sessions if c in o.circuits) >= limits[c] - 1e-3
        ]
        assert full, (s, result)


def test_a_random_site_of_ten_stations_never_exceeds_its_limit():
    rng = random.Random(18)
    for _ in range(200):
        sessions = [
            Session(f"s{i}", (1,), min_a=6.0, max_a=rng.choice([16.0, 32.0]))
            for i in range(rng.randint(0, 10))
        ]
        result = allocate({1: 50.0}, sessions)
        assert sum(result.currents.values()) <= 50.0 + 1e-6
