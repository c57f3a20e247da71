"""STIR/SHAKEN on the wire (RFC 8224): an INVITE's Identity header verified through SessionS, a signed Identity added
to the response, and SessionS's failures turned into the SIP answers RFC 8224 names.

Two request types of the SIP agent, named after the SessionS flags that do the same inside ProcessEvent:

- ``*stir_authenticate``: every Identity header field of the request (or ``*opts.*stirIdentity`` when the
  processor set one) goes to ``SessionSv1.STIRAuthenticate`` until one verifies. The originator is
  ``*opts.*stirOriginatorTn``/``*stirOriginatorURI``, else ``*cgreq.Account``, else the user of From; the destination
  ``*opts.*stirDestinationTn``/``*stirDestinationURI``, else ``*cgreq.Destination``, else the user of To;
  ``*stirATest`` and ``*stirPayloadMaxDuration`` narrow the check as in CGRateS. A request without Identity, or
  whose every Identity fails, is refused at once (fail closed: no later processor can turn it into a redirect)
  with the code of :data:`FAILURES` — 428, 436, 437, 438, or 403 "Stale Date" (RFC 8224 §6.2.1-§6.2.4).
- ``*stir_initiate``: ``SessionSv1.STIRIdentity`` signs a PASSporT for the call (attest ``*stirATest`` or SessionS's
  default, the same originator and destination, a fresh ``origid``, ``iat`` now, the keys of ``*stirPublicKeyPath``/
  ``*stirPrivateKeyPath`` or SessionS's); the header lands in ``*cgrep.STIRIdentity`` and in ``*rep.Identity``, so
  the response carries it (reply fields may still move or drop it). A signing failure is ``*cgrep.Error``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from pycgrates.agents.request import AgentRequest
from pycgrates.engine.rpc.errors import RPCError, mandatory_ie_missing
from pycgrates.engine.stir.service import (
    META_STIR_AUTHENTICATE,
    META_STIR_INITIATE,
    OPT_STIR_ATEST,
    OPT_STIR_DESTINATION_TN,
    OPT_STIR_DESTINATION_URI,
    OPT_STIR_IDENTITY,
    OPT_STIR_ORIGINATOR_TN,
    OPT_STIR_ORIGINATOR_URI,
    OPT_STIR_PAYLOAD_MAX_DURATION,
    OPT_STIR_PRIVATE_KEY_PATH,
    OPT_STIR_PUBLIC_KEY_PATH,
)
from pycgrates.engine.template.dataprovider import NotFoundError, as_string
from pycgrates.engine.template.rsr import parse_rsr

from .codec import REASON_PHRASES, SipRequest, SipResponse, response_to
from .fields import SipDataProvider

STIR_AUTHENTICATE = META_STIR_AUTHENTICATE
STIR_INITIATE = META_STIR_INITIATE
AUTHENTICATE = "SessionSv1.STIRAuthenticate"
SIGN = "SessionSv1.STIRIdentity"
IDENTITY = "Identity"
#: the prefix of every STIR failure SessionS answers (CGRateS's NewSTIRError)
STIR_ERROR_PREFIX = META_STIR_AUTHENTICATE + ": "
#: CGRateS's separator of several numbers in one option ("1002;1003")
INFIELD_SEP = ";"

#: SessionS's STIR failure reason → the response (RFC 8224): the first pattern that matches wins
FAILURES: tuple[tuple[re.Pattern[str], int, str], ...] = tuple((re.compile(pattern), status, reason) for
                                                                pattern, status, reason in (
    # §6.2.4: the PASSporT's iat is older than the verifier accepts
    (r"^expired payload$", 403, "Stale Date"),
    # §6.2.1, §13.2: the certificate the info parameter (x5u) names cannot be fetched, or not by that scheme
    (r"^(empty x5u|x5u |open |read |http status error)", 436, REASON_PHRASES[436]),
    # §13.3: the certificate was fetched but cannot be used (not a P-256 key, untrusted chain, numbers not covered)
    (r"^(certificate|TNAuthList|Invalid Key|Key is not|cannot read the key|sessions\.stir sti_ca_roots)", 437,
     REASON_PHRASES[437]),
    # §6.2.2: anything else — a malformed header or PASSporT, a bad signature, claims that do not match the call
    (r"", 438, REASON_PHRASES[438]),
))

#: where the numbers come from when no *opts option names them: the event's field, then the SIP header's user
ORIGINATOR = ("Account", parse_rsr("~*req.From{*sipuri_user}"))
DESTINATION = ("Destination", parse_rsr("~*req.To{*sipuri_user}"))


class IdentityRejected(RPCError):
    """A request refused for its Identity: ``status`` and ``reason`` are the SIP response, the message why."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason

    @classmethod
    def missing(cls) -> IdentityRejected:
        return cls(428, REASON_PHRASES[428], f"{STIR_ERROR_PREFIX}the request has no Identity header")

    @classmethod
    def of(cls, error: str) -> IdentityRejected:
        """The rejection SessionS's STIR error text calls for."""
        reason = error.removeprefix(STIR_ERROR_PREFIX)
        for pattern, status, phrase in FAILURES:
            if pattern.search(reason):
                return cls(status, phrase, error)
        raise AssertionError("FAILURES ends with a catch-all")  # pragma: no cover

    def response(self, request: SipRequest) -> SipResponse:
        """The answer to ``request``; a Warning says why (RFC 3261 §20.43, code 399: miscellaneous)."""
        detail = self.message.replace('"', "'")[:200]
        return response_to(request, self.status, self.reason, headers=[("Warning", f'399 - "{detail}"')])


# ---------------------------------------------------------------------------------------------------- helpers


def _opt(ar: AgentRequest, name: str) -> str:
    return as_string(ar.opts.get(name) or "")


def _party(ar: AgentRequest, opt_tn: str, default: tuple[str, Any]) -> str:
    """A number: the *opts option, else the event field, else the user of the SIP header."""
    text = _opt(ar, opt_tn)
    if text:
        return text
    field, rule = default
    try:
        text = as_string(ar.cgr_request.field_as_any((field,)))
    except NotFoundError:
        text = ""
    if text:
        return text
    try:
        return as_string(rule.parse(ar))
    except (RPCError, ValueError):
        return ""


def _split(text: str) -> list[str]:
    return [part for part in text.split(INFIELD_SEP) if part]


def identities(ar: AgentRequest) -> list[str]:
    """The Identity values to verify: ``*opts.*stirIdentity`` when a request field set it, else every Identity
    header field of the request (RFC 8224 §4: one per credential, any one may verify the request)."""
    explicit = _opt(ar, OPT_STIR_IDENTITY)
    if explicit:
        return [explicit]
    request = ar.request
    if isinstance(request, SipDataProvider):
        return [v for v in request.message.headers.fields(IDENTITY) if v.strip()]
    return []


def verification_args(ar: AgentRequest) -> dict[str, Any]:
    """The SessionSv1.STIRAuthenticate arguments of the call but the Identity."""
    return {
        "OriginatorTn": "" if _opt(ar, OPT_STIR_ORIGINATOR_URI) else _party(ar, OPT_STIR_ORIGINATOR_TN, ORIGINATOR),
        "OriginatorURI": _opt(ar, OPT_STIR_ORIGINATOR_URI),
        "DestinationTn": "" if _opt(ar, OPT_STIR_DESTINATION_URI) else _party(ar, OPT_STIR_DESTINATION_TN,
                                                                              DESTINATION),
        "DestinationURI": _opt(ar, OPT_STIR_DESTINATION_URI),
        "Attest": _split(_opt(ar, OPT_STIR_ATEST)),
        "PayloadMaxDuration": _opt(ar, OPT_STIR_PAYLOAD_MAX_DURATION),
    }


def signing_args(ar: AgentRequest) -> dict[str, Any]:
    """The SessionSv1.STIRIdentity arguments: the PASSporT claims of the call and the keys to sign with."""
    orig_uri = _opt(ar, OPT_STIR_ORIGINATOR_URI)
    payload = {
        "attest": _opt(ar, OPT_STIR_ATEST),
        "dest": {"tn": _split(_party(ar, OPT_STIR_DESTINATION_TN, DESTINATION)),
                 "uri": _split(_opt(ar, OPT_STIR_DESTINATION_URI))},
        "orig": {"uri": orig_uri} if orig_uri else {"tn": _party(ar, OPT_STIR_ORIGINATOR_TN, ORIGINATOR)},
        "origid": str(uuid.uuid4()),
    }
    return {"Payload": payload, "PublicKeyPath": _opt(ar, OPT_STIR_PUBLIC_KEY_PATH),
            "PrivateKeyPath": _opt(ar, OPT_STIR_PRIVATE_KEY_PATH), "OverwriteIAT": True}


# ---------------------------------------------------------------------------------------------------- handlers

Call = Callable[[str, Any], Any]


async def authenticate(ar: AgentRequest, call: Call | None) -> None:
    """``*stir_authenticate``: the request goes on when one of its Identity values verifies; else IdentityRejected.
    A SessionS that cannot be asked (no sessions_conns, not answering) is an RPCError: the request is answered by
    the error template, never let through."""
    values = identities(ar)
    if not values:
        raise IdentityRejected.missing()
    if call is None:
        raise mandatory_ie_missing("connIDs")
    args = verification_args(ar)
    failures: list[str] = []
    for identity in values:
        try:
            await call(AUTHENTICATE, {**args, "Identity": identity})
        except (OSError, TimeoutError) as exc:
            raise RPCError(f"{AUTHENTICATE}: {exc or type(exc).__name__}") from None
        except RPCError as exc:
            if not exc.message.startswith(STIR_ERROR_PREFIX):
                raise
            failures.append(exc.message)
            continue
        ar.cgr_reply = {**ar.cgr_reply, "Error": ""}
        return
    raise IdentityRejected.of(failures[0])


async def initiate(ar: AgentRequest, call: Call | None) -> None:
    """``*stir_initiate``: a signed Identity in ``*cgrep.STIRIdentity`` and ``*rep.Identity``."""
    if call is None:
        ar.cgr_reply = {**ar.cgr_reply, "Error": str(mandatory_ie_missing("connIDs"))}
        return
    try:
        identity = as_string(await call(SIGN, signing_args(ar)))
    except (RPCError, OSError, TimeoutError) as exc:
        ar.cgr_reply = {**ar.cgr_reply, "Error": str(exc) or type(exc).__name__}
        return
    ar.cgr_reply = {**ar.cgr_reply, "STIRIdentity": identity, "Error": ""}
    ar.reply.set((IDENTITY,), identity)


__all__ = [
    "FAILURES",
    "STIR_AUTHENTICATE",
    "STIR_INITIATE",
    "IdentityRejected",
    "authenticate",
    "identities",
    "initiate",
    "signing_args",
    "verification_args",
]
