"""What the RADIUS agent adds to the shared request pipeline: the packet as ``*req``, its ``*vars``, ``*rep`` (and
``*radDAReq``) written back as attributes, and the ``*radauth`` password checks.

``*req.<Attribute>`` reads the first attribute of that name in its text form (VALUE names for enumerations, RFC 3339
for dates, the un-hidden User-Password); ``*req.<Vendor>.<Attribute>`` names a vendor's attribute explicitly.
``*vars`` carries ``RemoteHost`` (``ip:port`` of the NAS), ``*radReqType`` (``*radAuth``, ``*radAcctStart``,
``*radAcctUpdate``, ``*radAcctStop``, ``*radAcctOn``, ``*radAcctOff`` or ``*radAcct``) and ``*radReqCode``
(``AccessRequest``, ``AccountingRequest``).

In ``*rep``, ``*radReplyCode`` sets the reply code (``AccessAccept``, ``AccessReject``, ``AccessChallenge``); any
other path is an attribute, ``Vendor.Attribute`` for a vendor-specific one, and each value written (``*group``
writes several) becomes one attribute, in the order the fields wrote them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pycgrates.engine.rpc.errors import mandatory_ie_missing
from pycgrates.engine.template.dataprovider import NotFoundError, as_string
from pycgrates.engine.template.fields import Leaf

from .auth import check_chap, check_mschap, check_mschapv2, check_pap, mppe_keys
from .codec import ACCESS_REQUEST, ACCOUNTING_REQUEST, CODE_NAMES, Packet, RadiusError, code_of
from .dictionary import AttrDef

REQ_TYPE = "*radReqType"
REQ_CODE = "*radReqCode"
REMOTE_HOST = "RemoteHost"
REPLY_CODE = "*radReplyCode"
RADAUTH = "*radauth"
DA_REQUEST = "*radDAReq"
ORIGINAL_REQUEST = "*oreq"
RADAUTH_FAILED = "RADAUTH_FAILED"
USER_PASSWORD_VAR = "UserPassword"

#: *vars.*radReqType of an Accounting-Request, by its Acct-Status-Type
ACCT_TYPES = {"Start": "*radAcctStart", "Interim-Update": "*radAcctUpdate", "Alive": "*radAcctUpdate",
              "Stop": "*radAcctStop", "Accounting-On": "*radAcctOn", "Accounting-Off": "*radAcctOff"}
ACCT_STATUS_NUMBERS = {1: "Start", 2: "Stop", 3: "Interim-Update", 7: "Accounting-On", 8: "Accounting-Off"}
NAS_RESTART = frozenset({"Accounting-On", "Accounting-Off"})


def code_text(code: int) -> str:
    """``Access-Request`` as templates spell codes: ``AccessRequest``."""
    return CODE_NAMES.get(code, str(code)).replace("-", "")


def acct_status(packet: Packet) -> str:
    """Acct-Status-Type as a name (Start, Stop, Interim-Update, Accounting-On, ...), "" when absent."""
    for attr in packet.attributes:
        if attr.code == 40 and not attr.vendor and len(attr.raw) == 4:
            number = int.from_bytes(attr.raw, "big")
            return ACCT_STATUS_NUMBERS.get(number) or attr.text
    return ""


def request_vars(packet: Packet, remote_address: str) -> dict[str, Any]:
    """The ``*vars`` a request starts with."""
    if packet.code == ACCESS_REQUEST:
        rtype = "*radAuth"
    elif packet.code == ACCOUNTING_REQUEST:
        rtype = ACCT_TYPES.get(acct_status(packet), "*radAcct")
    else:
        rtype = ""
    return {REMOTE_HOST: remote_address, REQ_TYPE: rtype, REQ_CODE: code_text(packet.code)}


class RadiusDataProvider:
    """A decoded packet read by templates as ``*req`` (or ``*oreq``); values are looked up once.

    A missing attribute raises a new NotFoundError each time: raising one shared instance would chain every
    raise's traceback onto it and keep all those frames (and the packets they reference) alive.
    """

    __slots__ = ("_index", "auth_reply", "packet")

    def __init__(self, packet: Packet) -> None:
        self.packet = packet
        self._index: dict[str, Any] | None = None
        #: attributes the ``*radauth`` check adds to an Access-Accept (MS-CHAP2-Success, MPPE keys)
        self.auth_reply: list[tuple[str, Any]] = []

    def __repr__(self) -> str:
        return repr(self.packet)

    def _build_index(self) -> dict[str, Any]:
        index: dict[str, Any] = {}
        for attr in self.packet.attributes:
            defn = attr.defn
            if defn is not None and defn.type == "tlv":
                for a in attr.walk():
                    index.setdefault(a.name, a)
            else:
                index.setdefault(attr.name, attr)
        self._index = index
        return index

    def field_as_any(self, path: Any) -> Any:
        index = self._index if self._index is not None else self._build_index()
        if len(path) == 1:
            name = path[0]
            found = index.get(name)
            if found is None:
                defn = self.packet.dictionary.get(name)  # names are case-insensitive
                found = index.get(defn.name) if defn is not None else None
                if found is None:
                    raise NotFoundError()
            if type(found) is not str:
                found = index[name] = found.text  # converted once, when a template first reads it
            return found
        if len(path) == 2:  # Vendor.Attribute
            defn = self.packet.dictionary.get(path[1])
            vendor = self.packet.dictionary.vendor(path[0])
            if defn is None or vendor is None or defn.vendor != vendor.id:
                raise NotFoundError()
            found = self.packet.find(defn)
            if not found:
                raise NotFoundError()
            return found[0].text
        raise NotFoundError()

    def field_as_string(self, path: Any) -> str:
        return self.field_as_any(path)

    def to_dict(self) -> dict[str, Any]:
        """The packet for the logs (hidden values masked)."""
        view: dict[str, Any] = {"Code": self.packet.code_name, "Identifier": self.packet.identifier}
        for name, values in self.packet.as_dict(for_log=True).items():
            view[name] = values[0] if len(values) == 1 else values
        return view


# ---------------------------------------------------------------------------------------------------- encoding


def _definition(packet: Packet, path: tuple[str, ...], where: str) -> AttrDef:
    dictionary = packet.dictionary
    if len(path) == 1:
        defn = dictionary.get(path[0])
        if defn is None:
            raise RadiusError(f"{where}: attribute <{path[0]}> is not in the dictionary of this client")
        return defn
    if len(path) == 2:
        vendor = dictionary.vendor(path[0])
        if vendor is None:
            raise RadiusError(f"{where}: vendor <{path[0]}> is not in the dictionary of this client")
        defn = dictionary.get(path[1])
        if defn is None or defn.vendor != vendor.id:
            raise RadiusError(f"{where}: attribute <{path[1]}> of vendor {path[0]} is not in the dictionary")
        return defn
    raise RadiusError(f"{where}: path <{'.'.join(path)}> is neither Attribute nor Vendor.Attribute")


def add_attributes(packet: Packet, leaves: Iterable[Leaf], where: str) -> None:
    """Append one attribute per leaf; ``*radReplyCode`` sets the code. RadiusError names a bad leaf."""
    for leaf in leaves:
        path = tuple(p.partition("[")[0] for p in leaf.path)
        value = leaf.value
        if path == (REPLY_CODE,):
            try:
                packet.code = code_of(as_string(value))
            except (ValueError, KeyError, RadiusError):
                raise RadiusError(f"{where}: {REPLY_CODE} <{as_string(value)}> is not a RADIUS packet code "
                                  "(AccessAccept, AccessReject, AccessChallenge, ...)") from None
            continue
        defn = _definition(packet, path, where)
        if isinstance(value, bytes | bytearray):
            pass
        elif not isinstance(value, int) or isinstance(value, bool):
            value = as_string(value)
        try:
            packet.add(defn, value, tag=None)
        except (ValueError, TypeError, RadiusError) as exc:
            raise RadiusError(f"{where}: attribute <{defn.name}> value <{as_string(value)}>: {exc}") from None


# ---------------------------------------------------------------------------------------------------- *radauth


def _first_raw(packet: Packet, name: str) -> bytes | None:
    defn = packet.dictionary.get(name)
    if defn is None:
        return None
    found = packet.find(defn)
    return bytes(found[0].raw) if found else None


def authenticate(flags: Any, dp: RadiusDataProvider, password: str) -> bool:
    """``*radauth`` with ``*pap``, ``*chap``, ``*mschap`` or ``*mschapv2``: the request proves ``password``.

    A missing credential attribute is ``MANDATORY_IE_MISSING``; a method flag missing is a ValueError. On an
    MS-CHAPv2 success the MS-CHAP2-Success and MPPE keys are queued in ``dp.auth_reply``.
    """
    packet = dp.packet
    if flags.has("*pap"):
        given = _first_raw(packet, "User-Password")
        if given is None:
            raise mandatory_ie_missing("User-Password")
        return check_pap(given.rstrip(b"\x00"), password)
    if flags.has("*chap"):
        response = _first_raw(packet, "CHAP-Password")
        if response is None:
            raise mandatory_ie_missing("CHAP-Password")
        challenge = _first_raw(packet, "CHAP-Challenge") or packet.authenticator or b""
        return check_chap(response, challenge, password)
    if flags.has("*mschapv2"):
        challenge = _first_raw(packet, "MS-CHAP-Challenge")
        if challenge is None:
            raise mandatory_ie_missing("MS-CHAP-Challenge")
        response = _first_raw(packet, "MS-CHAP2-Response") or _first_raw(packet, "MS-CHAP-Response")
        if response is None:
            raise mandatory_ie_missing("MS-CHAP2-Response")
        user = _first_raw(packet, "User-Name") or b""
        user = user.rsplit(b"\\", 1)[-1]  # Windows peers hash the name without its DOMAIN\ part
        success = check_mschapv2(user, password, challenge, response)
        if success is None:
            return False
        send_key, recv_key = mppe_keys(password, response[26:50])
        dp.auth_reply.extend((("MS-CHAP2-Success", success), ("MS-MPPE-Send-Key", send_key),
                              ("MS-MPPE-Recv-Key", recv_key), ("MS-MPPE-Encryption-Policy", 1),
                              ("MS-MPPE-Encryption-Types", 6)))
        return True
    if flags.has("*mschap"):
        challenge = _first_raw(packet, "MS-CHAP-Challenge")
        response = _first_raw(packet, "MS-CHAP-Response")
        if challenge is None or response is None:
            raise mandatory_ie_missing("MS-CHAP-Challenge" if challenge is None else "MS-CHAP-Response")
        return check_mschap(password, challenge, response)
    raise ValueError("*radauth needs one of the flags *pap, *chap, *mschap, *mschapv2")


def queue_auth_reply(packet: Packet, dp: RadiusDataProvider) -> None:
    """Add what a successful ``*radauth`` queued (skipping attributes this client's dictionary lacks)."""
    for name, value in dp.auth_reply:
        defn = packet.dictionary.get(name)
        if defn is not None:
            packet.add(defn, value)


__all__ = [
    "ACCT_TYPES",
    "DA_REQUEST",
    "NAS_RESTART",
    "ORIGINAL_REQUEST",
    "RADAUTH",
    "RADAUTH_FAILED",
    "REPLY_CODE",
    "REQ_CODE",
    "REQ_TYPE",
    "USER_PASSWORD_VAR",
    "RadiusDataProvider",
    "acct_status",
    "add_attributes",
    "authenticate",
    "code_text",
    "queue_auth_reply",
    "request_vars",
]
