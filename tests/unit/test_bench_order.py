"""The order of a bench round's runs as deployed and the peer's (``run_order``): the
two runs the targets compare first and back to back, the order alternating."""

from __future__ import annotations

import pytest

from accord.bench.run import VARIANTS, run_order

JUDGED = [("deployed", "signed"), ("peer", "2 processes")]


@pytest.mark.parametrize("peer_first", [False, True])
def test_the_judged_pair_runs_first_and_back_to_back(peer_first: bool) -> None:
    order = run_order(tuple(VARIANTS), peer_first=peer_first)
    assert order[:2] == (JUDGED[::-1] if peer_first else JUDGED)


@pytest.mark.parametrize("peer_first", [False, True])
def test_every_run_comes_once(peer_first: bool) -> None:
    order = run_order(("signed", "per-message"), peer_first=peer_first)
    assert sorted(order) == sorted(
        [
            ("deployed", "signed"),
            ("deployed", "per-message"),
            ("paced deployed", "signed"),
            ("peer", "1 process"),
            ("peer", "2 processes"),
            ("paced peer", "2 processes"),
        ]
    )


def test_the_other_runs_alternate_too() -> None:
    accord_first = run_order(("signed", "per-message"), peer_first=False)
    peer_first = run_order(("signed", "per-message"), peer_first=True)
    assert accord_first[2:] == [
        ("deployed", "per-message"),
        ("paced deployed", "signed"),
        ("peer", "1 process"),
        ("paced peer", "2 processes"),
    ]
    assert peer_first[2:] == [
        ("peer", "1 process"),
        ("paced peer", "2 processes"),
        ("deployed", "per-message"),
        ("paced deployed", "signed"),
    ]


def test_one_variant_judges_and_paces() -> None:
    order = run_order(("per-message",), peer_first=False)
    assert order == [
        ("deployed", "per-message"),
        ("peer", "2 processes"),
        ("paced deployed", "per-message"),
        ("peer", "1 process"),
        ("paced peer", "2 processes"),
    ]
