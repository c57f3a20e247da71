"""APIerSv2's accounting methods: CGRateS's APIerSv2 embeds APIerSv1, so where it adds no method of its own the
name answers as APIerSv1's does; GetActions, GetActionsCount and SetActions have their own shapes."""

from __future__ import annotations

from typing import Any

from pycgrates.engine.models.account import Action
from pycgrates.engine.rpc.errors import MANDATORY_IE_MISSING, NOT_FOUND, RPCError
from pycgrates.engine.rpc.registry import rpc
from pycgrates.engine.storage.base import ACTIONS


class ApierV2Accounting:
    """Mixed into AccountingService (which supplies ``acc`` and the APIerSv1 handlers named below)."""

    acc: Any

    async def set_actions(self, args: dict) -> str: ...  # APIerSv1's, on the service

    @rpc("APIerSv2.GetActions")
    async def get_actions_v2(self, args: Any) -> dict[str, list[dict]] | None:
        """``{"ActionIDs", "Offset", "Limit"}`` → ``{id: [Action]}`` as stored (engine.Actions); every action
        set when ActionIDs is empty; null when there are none."""
        args = args if isinstance(args, dict) else {}
        ids = [i for i in args.get("ActionIDs") or [] if i] or sorted(await self.acc.dm.keys(ACTIONS))
        if not ids:
            return None
        offset = min(max(int(args.get("Offset") or 0), 0), len(ids))
        limit = int(args.get("Limit") or 0)
        out: dict[str, list[dict]] = {}
        for aid in ids[offset:offset + limit] if limit else ids[offset:]:
            raw = await self.acc.dm.get(ACTIONS, aid)
            if raw:
                out[aid] = [Action.from_dict(a).to_dict(storage=True) for a in raw]
        return out

    @rpc("APIerSv2.GetActionsCount")
    async def get_actions_count(self, args: Any) -> int:
        """How many action sets are stored; NOT_FOUND when none."""
        count = len(await self.acc.dm.keys(ACTIONS))
        if not count:
            raise RPCError(NOT_FOUND)
        return count

    @rpc("APIerSv2.SetActions")
    async def set_actions_v2(self, args: dict) -> str:
        """APIerSv1.SetActions, with each action's Identifier and Weight (and Units when it names a
        BalanceType) mandatory, as CGRateS's v2 checks them."""
        for act in (args or {}).get("Actions") or []:
            if not isinstance(act, dict):
                continue
            required = ["Identifier", "Weight"] + (["Units"] if act.get("BalanceType") else [])
            missing = [f for f in required if act.get(f) in (None, "", 0)]
            if missing:
                raise RPCError(f"{MANDATORY_IE_MISSING}:Action:{act.get('Identifier') or ''}:[{' '.join(missing)}]")
        return await self.set_actions(args)
