"""The console's actions and who may run them: read-only unless ``http.console.action_users`` grants an action.

An action runs only for a user the HTTP listener authenticated (``http.use_basic_auth`` with ``auth_users``) and
that ``action_users`` lists for it; anyone else is refused (403) before any service is called. Without basic auth
nobody is identified, so the console only reads. The page hides what the user may not do, but the refusal is
here, on the server.

Actions come as JSON POSTs from the console's own pages: a request that another site's page could make (a form
post, or a browser saying it is cross-site) is refused, so a logged-in operator's browser cannot be made to act.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pycgrates.engine.units import to_decimal

FORCE_DISCONNECT = "*force_disconnect"
ADD_BALANCE = "*add_balance"
ACTIONS = (FORCE_DISCONNECT, ADD_BALANCE)


class Refused(Exception):
    """The request may not run the action; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def basic_auth_user(header: str) -> str | None:
    """The user name of a ``Basic`` Authorization header (its password was checked by the listener)."""
    if not header.startswith("Basic "):
        return None
    try:
        user, sep, _ = base64.b64decode(header[6:], validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return user if sep and user else None


def grants(action_users: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    """``action_users`` from the config: action → the users allowed it."""
    return {action: frozenset(str(u) for u in action_users.get(action) or []) for action in ACTIONS}


def allowed_actions(user: str | None, granted: Mapping[str, frozenset[str]]) -> list[str]:
    return [action for action in ACTIONS if user is not None and user in granted.get(action, ())]


def check(action: str, user: str | None, granted: Mapping[str, frozenset[str]]) -> None:
    """Raise Refused unless ``user`` may run ``action``."""
    if action not in ACTIONS:
        raise Refused(404, f"no action {action}")
    if user is None:
        raise Refused(403, f"{action}: the console is read-only without an authenticated user (turn "
                           "http.use_basic_auth on and list the user in http.console.action_users)")
    if user not in granted.get(action, ()):
        raise Refused(403, f"{action}: user {user!r} has no role allowing it (http.console.action_users)")


def check_same_origin(method: str, headers: Mapping[str, str], host: str) -> None:
    """Refuse what another site's page could send: not a JSON POST, or a browser saying it comes from elsewhere."""
    if method != "POST":
        raise Refused(405, "actions are POSTed")
    if headers.get("Content-Type", "").split(";")[0].strip().lower() != "application/json":
        raise Refused(415, "actions are JSON (Content-Type: application/json)")
    site = headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        raise Refused(403, f"a {site} request may not run actions")
    origin = headers.get("Origin")
    if origin is not None and origin.split("://", 1)[-1] != host:
        raise Refused(403, f"a request from {origin} may not run actions")


# ---------------------------------------------------------------------------------------------- the actions


def _text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    return str(value).strip() if value is not None else ""


async def force_disconnect(sessions: Any, body: Mapping[str, Any]) -> str:
    """End the session ``OriginID`` (and ``OriginHost``, when it has one) names: SessionSv1.ForceDisconnect."""
    origin_id = _text(body, "OriginID")
    if not origin_id:
        raise Refused(400, "OriginID: the session to disconnect is missing")
    filters = [f"*string:~*req.OriginID:{origin_id}"]
    if _text(body, "OriginHost"):
        filters.append(f"*string:~*req.OriginHost:{_text(body, 'OriginHost')}")
    arg: dict[str, Any] = {"Filters": filters}
    if _text(body, "Tenant"):
        arg["Tenant"] = _text(body, "Tenant")
    return await sessions.call("SessionSv1.ForceDisconnect", arg)


async def add_balance(apiers: Any, body: Mapping[str, Any]) -> str:
    """Top up: ``Tenant``, ``Account``, ``BalanceType`` (*monetary by default), ``Value`` > 0, ``BalanceID``
    (optional): APIerSv1.AddBalance."""
    account = _text(body, "Account")
    if not account:
        raise Refused(400, "Account: the account to top up is missing")
    try:
        value = to_decimal(_text(body, "Value"))
    except ValueError:
        raise Refused(400, f"Value: {_text(body, 'Value')!r} is not a number") from None
    if not value.is_finite() or value <= Decimal(0):
        raise Refused(400, "Value: a top-up is a positive amount")
    arg: dict[str, Any] = {"Account": account, "BalanceType": _text(body, "BalanceType") or "*monetary",
                           "Value": float(value)}
    if _text(body, "Tenant"):
        arg["Tenant"] = _text(body, "Tenant")
    if _text(body, "BalanceID"):
        arg["Balance"] = {"ID": _text(body, "BalanceID")}
    return await apiers.call("APIerSv1.AddBalance", arg)


__all__ = ["ACTIONS", "ADD_BALANCE", "FORCE_DISCONNECT", "Refused", "add_balance", "allowed_actions",
           "basic_auth_user", "check", "check_same_origin", "force_disconnect", "grants"]
