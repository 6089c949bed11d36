"""The exchange over a real broker: publish, verify, label, inbox, receipts."""

from __future__ import annotations

import pytest
from _exchange import label_for, report

from accord.areas import Area
from accord.errors import ReasonCode, Refused
from accord.exchange import LocalExchange
from accord.parties import Scope

pytestmark = pytest.mark.kafka


async def test_entitled_agencies_receive_and_usa_sees_nothing_bilateral(
    exchange: LocalExchange,
) -> None:
    await exchange.start_receivers(["JPN.MOFA", "AUS.DFAT", "USA.STATE", "AUS.AFP"])
    pub = await exchange.publisher("AUS.AFP")
    bilateral = [
        await pub.publish(
            report(i),
            scope=Scope.BILATERAL,
            area=Area.COUNTER_TERRORISM,
            label=label_for("AUS.AFP", Scope.BILATERAL),
        )
        for i in range(5)
    ]
    trilateral = [
        await pub.publish(
            report(i),
            scope=Scope.TRILATERAL,
            area=Area.COUNTER_TERRORISM,
            label=label_for("AUS.AFP", Scope.TRILATERAL),
        )
        for i in range(3)
    ]
    assert await exchange.settle({"JPN.MOFA": 8, "USA.STATE": 3, "AUS.DFAT": 8}, within_s=60)
    await exchange.quiesce(idle_s=1.5)
    ids_bi = {r.message_id for r in bilateral}
    ids_tri = {r.message_id for r in trilateral}
    assert set(exchange.receivers["JPN.MOFA"].inbox.message_ids()) == ids_bi | ids_tri
    assert set(exchange.receivers["USA.STATE"].inbox.message_ids()) == ids_tri
    assert set(exchange.receivers["AUS.DFAT"].inbox.message_ids()) == ids_bi | ids_tri
    for agency in ("JPN.MOFA", "USA.STATE", "AUS.DFAT"):
        assert exchange.receivers[agency].stats.rejected == {}


async def test_publisher_refuses_unentitled_area_and_bad_label(exchange: LocalExchange) -> None:
    pub = await exchange.publisher("AUS.AFP")
    with pytest.raises(Refused) as exc:
        await pub.publish(
            report(1),
            scope=Scope.BILATERAL,
            area=Area.COUNTER_PROLIFERATION,
            label=label_for("AUS.AFP", Scope.BILATERAL),
        )
    assert exc.value.reason is ReasonCode.NOT_ENTITLED
    with pytest.raises(Refused) as exc:
        await pub.publish(
            report(1),
            scope=Scope.BILATERAL,
            area=Area.LAW_ENFORCEMENT,
            label=label_for(
                "AUS.AFP", Scope.BILATERAL, releasable_to=tuple(sorted(Scope.TRILATERAL.members))
            ),
        )
    assert exc.value.reason is ReasonCode.RELEASABILITY_VIOLATION
