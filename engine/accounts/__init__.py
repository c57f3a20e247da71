"""RALs accounting: accounts and balances, debits and refunds, shared groups, actions, action plans, triggers.

Public API (for sessions, CDRs and the engine wiring)
=====================================================

One :class:`~engine.accounts.accounting.Accounting` per DataManager holds the per-account locks::

    from pycgrates.engine.accounts.accounting import Accounting
    acc = Accounting.for_dm(ctx.dm); acc.configure(ctx.cfg, ctx.conns)

Debits (``engine.accounts.debit``), each one atomic write of every account it touches::

    cc = await debit(acc, cd)                      # whole usage; INSUFFICIENT_CREDIT unless negative is allowed
    cc = await debit(acc, cd, negative_ok=True)    # postpaid: the rest goes on the *default balance
    cc = await debit(acc, cd, max_debit=True)      # as much as the balances allow (ForceDuration: all or error)
    ns = await max_session_time(acc, cd)           # usage allowed, -1 for AllowNegative accounts
    accounting = accounting_for(cc)                # EventCost "Accounting" map (sets increments' accounting_id)

Refunds (``engine.accounts.refunds``): ``await refund_increments(acc, tor, increments)`` gives back what
Increments took (their BalanceInfo names account and balance: a DebitInfo in process, its JSON off the wire);
``refund_rounding`` charges or gives back a session's rounding.

``cd`` is an ``engine.rating.CallDescriptor``; the CallCost's increments carry a ``DebitInfo`` (which balance of
which account paid). Errors are RPCErrors with CGRateS's codes (ACCOUNT_NOT_FOUND, ACCOUNT_DISABLED,
INSUFFICIENT_CREDIT, MAX_USAGE_EXCEEDED, UNAUTHORIZED_DESTINATION, RATING_PLAN_NOT_FOUND).

RPC: :class:`~engine.accounts.service.AccountingService` (APIerSv1/v2 account, balance, action, plan and trigger
methods; the typed Responder face of :mod:`engine.accounts.responder`: Debit, MaxDebit, GetMaxSessionTime,
RefundIncrements, RefundRounding, signatures in :mod:`engine.rating.api`) and :class:`engine.scheduler.Scheduler`.
The loader calls :func:`engine.accounts.loading.load_accounting`. Console commands: ``engine.accounts.console``.
"""
