"""The Responder face in process: CallDescriptors and CallCosts cross as objects, errors as typed RPCErrors, and
the JSON face (what the wire sees) answers exactly what the typed one does."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pycgrates.engine.metrics import Metrics
from pycgrates.engine.models.account import Account, Balance
from pycgrates.engine.rating import CallCost
from pycgrates.engine.rating import api as responder
from pycgrates.engine.rpc.codec import dumps, loads
from pycgrates.engine.rpc.conn import InternalConn
from pycgrates.engine.rpc.dispatch import Dispatcher
from pycgrates.engine.rpc.errors import AccountNotFound, InsufficientCredit, MandatoryIEMissing
from pycgrates.engine.rpc.registry import Registry
from tests.unit.test_debit import S, cd, make, put_account, values


async def conn_to(svc) -> InternalConn:
    reg = Registry()
    reg.register_object(svc)
    return InternalConn(Dispatcher(reg, Metrics()))


async def test_max_debit_in_process_hands_back_the_call_cost_object():
    svc = await make()
    await put_account(svc, "1001", ("*monetary", Balance(ID="main", Value=Decimal(5))))
    conn = await conn_to(svc)
    arg = cd("1002", 30)
    before = arg.to_json()
    cc = await responder.MAX_DEBIT.call(conn, arg)
    assert isinstance(cc, CallCost) and cc.Cost == Decimal("0.3")
    # which balance paid is accounting's own object, not its JSON
    bi = cc.Timespans[0].increments[-1].balance_info
    assert not isinstance(bi, dict) and bi.Monetary["UUID"] == "1001-main"
    assert arg.to_json() == before  # the caller's descriptor is not changed by the debit
    # the same method with its argument as it comes off the wire
    assert await conn.call("Responder.GetMaxSessionTime", loads(dumps(cd("1002", 600)))) == 470 * S  # 4.70 left


async def test_refunds_take_increments_as_objects_and_answer_the_account():
    svc = await make()
    await put_account(svc, "1001", ("*monetary", Balance(ID="main", Value=Decimal(5))))
    conn = await conn_to(svc)
    cc = await responder.MAX_DEBIT.call(conn, cd("1002", 30))
    refund = cd("1002", 30)
    refund.Increments = [cc.Timespans[0].increments[-1].clone(10)]  # give back 10 of the 1s steps
    acc = await responder.REFUND_INCREMENTS.call(conn, refund)
    assert isinstance(acc, Account)
    assert await values(svc) == {"main": Decimal("4.8")}


async def test_errors_cross_typed():
    svc = await make()
    conn = await conn_to(svc)
    with pytest.raises(AccountNotFound):
        await responder.DEBIT.call(conn, cd("1002", 10))
    await put_account(svc, "1001", ("*monetary", Balance(ID="main", Value=Decimal("0.05"))))
    with pytest.raises(InsufficientCredit) as err:
        await responder.DEBIT.call(conn, cd("1002", 10))
    assert err.value.message == "INSUFFICIENT_CREDIT"
    nobody = cd("1002", 10, account="")
    with pytest.raises(MandatoryIEMissing, match=r"^MANDATORY_IE_MISSING: \[Account\]$"):
        await responder.DEBIT.call(conn, nobody)


async def test_journal_key_travels_as_api_opts_on_the_wire_and_dedups_in_process():
    svc = await make()
    await put_account(svc, "1001", ("*monetary", Balance(ID="main", Value=Decimal(5))))
    conn = await conn_to(svc)
    arg = cd("1002", 30)
    arg.journal_key = "cgrid9:*default:00000001"
    arg.APIOpts = {"*journalKey": "not-this-one", "*context": "*sessions"}
    assert arg.to_json()["APIOpts"] == {"*journalKey": "cgrid9:*default:00000001", "*context": "*sessions"}
    first = await responder.MAX_DEBIT.call(conn, arg)
    again = await responder.MAX_DEBIT.call(conn, arg)  # a retry: answered from the journal, charged once
    assert again.to_json() == first.to_json()
    assert await values(svc) == {"main": Decimal("4.7")}
    assert (await svc.acc.dm.get("sjr", "cgrid9:*default:00000001"))["Method"] == "Responder.MaxDebit"
    assert await svc.acc.dm.get("sjr", "not-this-one") is None
