"""STIR/SHAKEN: PASSporT (RFC 8225, SHAKEN RFC 8588) signing and verification, Identity header (RFC 8224).

Behaves as CGRateS's SessionS: ``SessionSv1.STIRAuthenticate``/``STIRIdentity`` and the ProcessEvent flags
``*stir_authenticate``/``*stir_initiate``, with the same checks in the same order (header, signature, attest,
age, originator, destination) and the same error texts (``*stir_authenticate: wrong originatorTn``).

Byte-exactness: the payload is serialized as Go marshals CGRateS's ``PASSporTPayload`` (fields attest, dest,
iat, orig, origid; ``tn``/``uri`` omitted when empty; ``<``, ``>``, ``&`` escaped as ``\\u003c``...), which is also
RFC 8225 §9's lexicographic form. The header is serialized in lexicographic order too (alg, ppt, typ, x5u), as
RFC 8225 §9 asks and as the reference Identity headers CGRateS ships are; CGRateS 1.0's own struct emits
``typ`` first, which verifies the same everywhere since a signature covers whatever bytes were sent. ECDSA
signatures are randomized (Go's and ours), so two signers never produce the same signature bytes.

Beyond CGRateS (off by default): certificate chain validation against STI-CA roots and the TNAuthList check,
both in :mod:`engine.stir.keys`.

Everything above the ``async`` functions is pure (no I/O): parse, format, build, sign, verify, check.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from pycgrates.engine.rpc.errors import RPCError, mandatory_ie_missing
from pycgrates.engine.stir.keys import KeyStore, SignerKey, StirError
from pycgrates.engine.units import SECOND, DurationError, parse_duration

STIR_ALG = "ES256"
STIR_PPT = "shaken"
STIR_TYP = "passport"
META_ANY = "*any"

#: ProcessEvent flags.
META_STIR_AUTHENTICATE = "*stir_authenticate"
META_STIR_INITIATE = "*stir_initiate"

#: APIOpts, named as CGRateS names them (note the upper-case ``URI``).
OPT_STIR_ATEST = "*stirATest"
OPT_STIR_PAYLOAD_MAX_DURATION = "*stirPayloadMaxDuration"
OPT_STIR_IDENTITY = "*stirIdentity"
OPT_STIR_ORIGINATOR_TN = "*stirOriginatorTn"
OPT_STIR_ORIGINATOR_URI = "*stirOriginatorURI"
OPT_STIR_DESTINATION_TN = "*stirDestinationTn"
OPT_STIR_DESTINATION_URI = "*stirDestinationURI"
OPT_STIR_PUBLIC_KEY_PATH = "*stirPublicKeyPath"
OPT_STIR_PRIVATE_KEY_PATH = "*stirPrivateKeyPath"

#: CGRateS's separator inside one option value ("A;B", "1002;1003").
INFIELD_SEP = ";"

# CGRateS's reasons (after the "*stir_authenticate: " prefix).
ERR_MISSING_PARTS = "missing parts of the message header"
ERR_HEADER_FORMAT = "wrong header format"
ERR_WRONG_HEADER = "wrong header"
ERR_VERIFICATION = "crypto/ecdsa: verification error"
ERR_ATTEST = "wrong attest level"
ERR_EXPIRED = "expired payload"
ERR_ORIGINATOR_URI = "wrong originatorURI"
ERR_ORIGINATOR_TN = "wrong originatorTn"
ERR_DESTINATION_URI = "wrong destinationURI"
ERR_DESTINATION_TN = "wrong destinationTn"

_ES256 = ECAlgorithm(ECAlgorithm.SHA256)
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_WHITESPACE = re.compile(r"\s+")


def stir_error(reason: object) -> RPCError:
    """CGRateS's NewSTIRError: every STIR failure, signing included, carries the ``*stir_authenticate`` prefix."""
    return RPCError(f"{META_STIR_AUTHENTICATE}: {reason}")


# ---------------------------------------------------------------------------------------------- config


class StirConfigError(ValueError):
    """A ``sessions.stir`` section that cannot be used."""


@dataclass(frozen=True)
class StirConfig:
    """The ``sessions.stir`` section: CGRateS's keys, then ours (x5u_*, sti_ca_roots, check_tn_auth_list, tn_spc)."""

    allowed_attest: tuple[str, ...] = (META_ANY,)
    payload_maxduration_ns: int = -1
    default_attest: str = "A"
    publickey_path: str = ""
    privatekey_path: str = ""
    x5u_allow: tuple[str, ...] = ("/",)
    x5u_path_map: Mapping[str, str] = field(default_factory=dict)
    x5u_max_bytes: int = 65536
    x5u_timeout_ns: int = 2 * SECOND
    sti_ca_roots: tuple[str, ...] = ()
    check_tn_auth_list: bool = False
    tn_spc: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> StirConfig:
        """Read ``sessions.stir``; absent keys keep the values of the defaults file (mirrored here)."""
        raw = dict(section or {})
        d = cls()

        def strings(key: str, default: tuple[str, ...]) -> tuple[str, ...]:
            value = raw.get(key, default)
            if value is None:
                return default
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                raise StirConfigError(f"sessions.stir.{key} must be a list of strings, got {value!r}")
            return tuple(value)

        def string(key: str, default: str) -> str:
            value = raw.get(key, default)
            if value is None:
                return default
            if not isinstance(value, str):
                raise StirConfigError(f"sessions.stir.{key} must be a string, got {value!r}")
            return value

        def mapping(key: str) -> dict[str, str]:
            value = raw.get(key) or {}
            if not isinstance(value, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                raise StirConfigError(f'sessions.stir.{key} must map strings to strings, e.g. {{"prefix": "value"}}')
            return dict(value)

        def duration(key: str, default: int) -> int:
            value = raw.get(key)
            if value is None:
                return default
            try:
                return parse_duration(value)
            except DurationError as exc:
                raise StirConfigError(f"sessions.stir.{key}: {exc}") from exc

        max_bytes = raw.get("x5u_max_bytes", d.x5u_max_bytes)
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes <= 0:
            raise StirConfigError(f"sessions.stir.x5u_max_bytes must be a positive integer, got {max_bytes!r}")
        timeout_ns = duration("x5u_timeout", d.x5u_timeout_ns)
        if timeout_ns <= 0:
            raise StirConfigError("sessions.stir.x5u_timeout must be positive (a Go duration such as '2s')")
        check = raw.get("check_tn_auth_list", False)
        if not isinstance(check, bool):
            raise StirConfigError(f"sessions.stir.check_tn_auth_list must be true or false, got {check!r}")
        return cls(
            allowed_attest=strings("allowed_attest", d.allowed_attest),
            payload_maxduration_ns=duration("payload_maxduration", d.payload_maxduration_ns),
            default_attest=string("default_attest", d.default_attest),
            publickey_path=string("publickey_path", d.publickey_path),
            privatekey_path=string("privatekey_path", d.privatekey_path),
            x5u_allow=strings("x5u_allow", d.x5u_allow),
            x5u_path_map=mapping("x5u_path_map"),
            x5u_max_bytes=max_bytes,
            x5u_timeout_ns=timeout_ns,
            sti_ca_roots=strings("sti_ca_roots", d.sti_ca_roots),
            check_tn_auth_list=check,
            tn_spc=mapping("tn_spc"),
        )


# ---------------------------------------------------------------------------------- JSON as Go does it


class _Number(str):
    """A JSON number literal with a fraction or exponent (Go refuses it for an int64 field)."""


def _go_string(value: str) -> str:
    """A JSON string as Go's encoding/json writes it (HTML-safe escapes, UTF-8 kept)."""
    out = json.dumps(value, ensure_ascii=False)
    return (
        out.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _json_kind(value: Any) -> str:
    if isinstance(value, str) and not isinstance(value, _Number):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, _Number)):
        return "number"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_error(value: Any, where: str, go_type: str) -> StirError:
    kind = _json_kind(value)
    if kind == "number":
        kind = f"number {value}"
    target = f"Go struct field {where}" if "." in where else "Go value"
    return StirError(f"json: cannot unmarshal {kind} into {target} of type {go_type}")


def _fields(obj: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """Pick ``names`` from a JSON object the way Go matches struct fields: exact first, else case-insensitively."""
    wanted = {n.lower(): n for n in names}
    found: dict[str, Any] = {}
    for key, value in obj.items():
        name = wanted.get(key.lower())
        if name is not None and (name not in found or key == name):
            found[name] = value
    return found


def _str(value: Any, where: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str) and not isinstance(value, _Number):
        return value
    raise _type_error(value, where, "string")


def _str_list(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _type_error(value, where, "[]string")
    return [_str(v, where) for v in value]


def _obj(value: Any, where: str, go_type: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _type_error(value, where, go_type)
    return value


def _int64(value: Any, where: str) -> int:
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63:
        return value
    raise _type_error(value, where, "int64")


# -------------------------------------------------------------------------------------------- PASSporT


@dataclass
class PASSporTHeader:
    """The JOSE header of a SHAKEN PASSporT."""

    x5u: str = ""
    alg: str = STIR_ALG
    ppt: str = STIR_PPT
    typ: str = STIR_TYP

    def to_json(self) -> bytes:
        return (
            f'{{"alg":{_go_string(self.alg)},"ppt":{_go_string(self.ppt)},'
            f'"typ":{_go_string(self.typ)},"x5u":{_go_string(self.x5u)}}}'
        ).encode()

    @classmethod
    def from_dict(cls, data: Any) -> PASSporTHeader:
        obj = _obj(data, "PASSporTHeader", "utils.PASSporTHeader")
        f = _fields(obj, ("typ", "alg", "ppt", "x5u"))
        return cls(
            x5u=_str(f.get("x5u"), "PASSporTHeader.x5u"),
            alg=_str(f.get("alg"), "PASSporTHeader.alg"),
            ppt=_str(f.get("ppt"), "PASSporTHeader.ppt"),
            typ=_str(f.get("typ"), "PASSporTHeader.typ"),
        )


@dataclass
class PASSporTPayload:
    """The SHAKEN claims, as CGRateS's ``utils.PASSporTPayload``."""

    attest: str = ""
    dest_tn: list[str] = field(default_factory=list)
    dest_uri: list[str] = field(default_factory=list)
    iat: int = 0
    orig_tn: str = ""
    orig_uri: str = ""
    origid: str = ""

    def to_json(self) -> bytes:
        """Go's marshalling of the struct: declaration order (already lexicographic), no spaces, omitempty."""
        dest = []
        if self.dest_tn:
            dest.append('"tn":[' + ",".join(_go_string(t) for t in self.dest_tn) + "]")
        if self.dest_uri:
            dest.append('"uri":[' + ",".join(_go_string(u) for u in self.dest_uri) + "]")
        orig = []
        if self.orig_tn:
            orig.append('"tn":' + _go_string(self.orig_tn))
        if self.orig_uri:
            orig.append('"uri":' + _go_string(self.orig_uri))
        return (
            f'{{"attest":{_go_string(self.attest)},"dest":{{{",".join(dest)}}},"iat":{int(self.iat)},'
            f'"orig":{{{",".join(orig)}}},"origid":{_go_string(self.origid)}}}'
        ).encode()

    def as_dict(self) -> dict[str, Any]:
        """The JSON-RPC shape (what ``to_json`` writes, as a dict)."""
        return json.loads(self.to_json())

    @classmethod
    def from_dict(cls, data: Any) -> PASSporTPayload:
        """From the JSON shape (``{"attest", "dest": {"tn", "uri"}, "iat", "orig": {"tn", "uri"}, "origid"}``)."""
        if isinstance(data, PASSporTPayload):
            return data
        obj = _obj(data, "PASSporTPayload", "utils.PASSporTPayload")
        f = _fields(obj, ("attest", "dest", "iat", "orig", "origid"))
        dest = _fields(_obj(f.get("dest"), "PASSporTPayload.dest", "utils.PASSporTDestinationsIdentity"), ("tn", "uri"))
        orig = _fields(_obj(f.get("orig"), "PASSporTPayload.orig", "utils.PASSporTOriginsIdentity"), ("tn", "uri"))
        return cls(
            attest=_str(f.get("attest"), "PASSporTPayload.attest"),
            dest_tn=_str_list(dest.get("tn"), "PASSporTPayload.dest.tn"),
            dest_uri=_str_list(dest.get("uri"), "PASSporTPayload.dest.uri"),
            iat=_int64(f.get("iat"), "PASSporTPayload.iat"),
            orig_tn=_str(orig.get("tn"), "PASSporTPayload.orig.tn"),
            orig_uri=_str(orig.get("uri"), "PASSporTPayload.orig.uri"),
            origid=_str(f.get("origid"), "PASSporTPayload.origid"),
        )


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(segment: str) -> bytes:
    """jwt-go's DecodeSegment: base64url, padding optional; Go's error text on bad input."""
    bad = _B64URL.match(segment)
    end = bad.end() if bad else 0
    if end != len(segment):
        raise StirError(f"illegal base64 data at input byte {end}")
    if len(segment) % 4 == 1:
        raise StirError(f"illegal base64 data at input byte {len(segment) - 1}")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _decode_json(segment: str, part: str) -> Any:
    raw = b64url_decode(segment)
    try:
        return json.loads(raw, parse_float=_Number)
    except (ValueError, UnicodeDecodeError) as exc:
        raise StirError(f"invalid JSON in the PASSporT {part}: {exc}") from exc


def signing_input(header: PASSporTHeader, payload: PASSporTPayload) -> str:
    """``base64url(header) "." base64url(payload)``, the bytes a PASSporT signature covers."""
    return b64url_encode(header.to_json()) + "." + b64url_encode(payload.to_json())


def sign(message: str, private_key: ec.EllipticCurvePrivateKey) -> str:
    """ES256 over ``message``: the JWS signature (raw r||s, base64url)."""
    return b64url_encode(_ES256.sign(message.encode("ascii"), private_key))


def verify_signature(message: str, signature: str, public_key: ec.EllipticCurvePublicKey) -> None:
    """Raise StirError with jwt-go's text unless ``signature`` is a valid ES256 signature of ``message``."""
    raw = b64url_decode(signature)
    if len(raw) != 64 or not _ES256.verify(message.encode("ascii"), public_key, raw):
        raise StirError(ERR_VERIFICATION)


def build_passport(header: PASSporTHeader, payload: PASSporTPayload, private_key: ec.EllipticCurvePrivateKey) -> str:
    """The signed PASSporT in compact JWS form."""
    message = signing_input(header, payload)
    return message + "." + sign(message, private_key)


def format_identity(passport: str, x5u: str) -> str:
    """The Identity header value: ``<jwt>;info=<x5u>;alg=ES256;ppt=shaken`` (RFC 8224 §4, as CGRateS writes it)."""
    return f"{passport};info=<{x5u}>;alg={STIR_ALG};ppt={STIR_PPT}"


# ------------------------------------------------------------------------------------ Identity parsing


@dataclass
class ParsedIdentity:
    """An Identity header value taken apart; ``params`` has the header parameters by lower-case name."""

    signing_input: str
    signature: str
    header: PASSporTHeader
    payload: PASSporTPayload
    params: dict[str, str]


def parse_identity(identity: str) -> ParsedIdentity:
    """Split and decode an Identity header value (whitespace, e.g. from header folding, is ignored)."""
    tokens = _WHITESPACE.sub("", identity).split(INFIELD_SEP)
    if len(tokens) == 1:
        raise StirError(ERR_MISSING_PARTS)
    parts = tokens[0].split(".")
    if len(parts) != 3:
        raise StirError(ERR_HEADER_FORMAT)
    params: dict[str, str] = {}
    for token in tokens[1:]:
        name, sep, value = token.partition("=")
        if sep:
            params[name.lower()] = value
    header = PASSporTHeader.from_dict(_decode_json(parts[0], "header"))
    payload = PASSporTPayload.from_dict(_decode_json(parts[1], "payload"))
    return ParsedIdentity(parts[0] + "." + parts[1], parts[2], header, payload, params)


def check_identity_header(pi: ParsedIdentity) -> None:
    """CGRateS's VerifyHeader, naming what is wrong after its ``wrong header`` text."""

    def wrong(detail: str) -> StirError:
        return StirError(f"{ERR_WRONG_HEADER}: {detail}")

    info = pi.params.get("info")
    if info is None:
        raise wrong("the info parameter is missing (;info=<URL of the signing certificate>)")
    if len(info) <= 2:
        raise wrong("the info parameter is empty (;info=<URL of the signing certificate>)")
    x5u = info[1:-1] if info[0] == "<" and info[-1] == ">" else info
    alg = pi.params.get("alg")
    if alg is not None and alg != STIR_ALG:  # optional (RFC 8224 §4.1): the JWT header carries it
        raise wrong(f"the alg parameter is {alg!r}; only {STIR_ALG} is supported")
    ppt = pi.params.get("ppt")
    if ppt is None:
        raise wrong(f"the ppt parameter is missing (;ppt={STIR_PPT})")
    if ppt not in (STIR_PPT, f'"{STIR_PPT}"'):
        raise wrong(f"the ppt parameter is {ppt!r}; expected {STIR_PPT}")
    h = pi.header
    if h.alg != STIR_ALG:
        raise wrong(f"the PASSporT alg is {h.alg!r}; expected {STIR_ALG}")
    if h.ppt != STIR_PPT:
        raise wrong(f"the PASSporT ppt is {h.ppt!r}; expected {STIR_PPT}")
    if h.typ != STIR_TYP:
        raise wrong(f"the PASSporT typ is {h.typ!r}; expected {STIR_TYP}")
    if h.x5u != x5u:
        raise wrong(f"the PASSporT x5u {h.x5u!r} differs from the info parameter {x5u!r}")


def check_payload(
    payload: PASSporTPayload,
    originator_tn: str,
    originator_uri: str,
    destination_tn: str,
    destination_uri: str,
    allowed_attest: Iterable[str],
    payload_maxduration_ns: int,
    now_ns: int | None = None,
) -> None:
    """CGRateS's VerifyPayload: attest, age (when the max duration is >= 0), originator, destination."""
    allowed = set(allowed_attest)
    if META_ANY not in allowed and payload.attest not in allowed:
        raise StirError(ERR_ATTEST)
    if payload_maxduration_ns >= 0:
        now_ns = time.time_ns() if now_ns is None else now_ns
        if now_ns > payload.iat * SECOND + payload_maxduration_ns:
            raise StirError(ERR_EXPIRED)
    if originator_uri:
        if originator_uri != payload.orig_uri:
            raise StirError(ERR_ORIGINATOR_URI)
    elif originator_tn != payload.orig_tn:
        raise StirError(ERR_ORIGINATOR_TN)
    if destination_uri:
        if destination_uri not in payload.dest_uri:
            raise StirError(ERR_DESTINATION_URI)
    elif destination_tn not in payload.dest_tn:
        raise StirError(ERR_DESTINATION_TN)


# --------------------------------------------------------------------------------------------- the API


async def verify_identity(
    identity: str,
    originator_tn: str,
    originator_uri: str,
    destination_tn: str,
    destination_uri: str,
    allowed_attest: Iterable[str],
    payload_maxduration_ns: int,
    keys: KeyStore,
    *,
    now_ns: int | None = None,
) -> ParsedIdentity:
    """:func:`stir_authenticate` raising StirError (the bare reason) and returning what it verified."""
    pi = parse_identity(identity)
    check_identity_header(pi)
    signer: SignerKey = await keys.public_key(pi.header.x5u)
    verify_signature(pi.signing_input, pi.signature, signer.public_key)
    check_payload(
        pi.payload,
        originator_tn,
        originator_uri,
        destination_tn,
        destination_uri,
        allowed_attest,
        payload_maxduration_ns,
        now_ns,
    )
    if keys.check_tn_auth_list:
        keys.authorize_tn(signer, pi.payload.orig_tn)
    return pi


async def stir_authenticate(
    identity: str,
    originator_tn: str,
    originator_uri: str,
    destination_tn: str,
    destination_uri: str,
    allowed_attest: Iterable[str],
    payload_maxduration_ns: int,
    keys: KeyStore,
    *,
    now_ns: int | None = None,
) -> None:
    """Verify an Identity header; RPCError ``*stir_authenticate: <reason>`` (CGRateS's text) when it fails.

    A non-empty URI replaces the matching TN check, as in CGRateS. ``payload_maxduration_ns`` < 0: no age limit.
    """
    try:
        await verify_identity(
            identity,
            originator_tn,
            originator_uri,
            destination_tn,
            destination_uri,
            allowed_attest,
            payload_maxduration_ns,
            keys,
            now_ns=now_ns,
        )
    except StirError as exc:
        raise stir_error(exc.reason) from None


async def stir_identity(
    payload: Mapping[str, Any] | PASSporTPayload | None,
    public_key_path_or_x5u: str,
    private_key_path: str,
    keys: KeyStore,
    *,
    default_attest: str = "A",
    overwrite_iat: bool = False,
    now_ns: int | None = None,
) -> str:
    """Sign ``payload`` and return the Identity header value ``<jwt>;info=<x5u>;alg=ES256;ppt=shaken``.

    An empty ``attest`` becomes ``default_attest``; ``overwrite_iat`` stamps the current time (CGRateS's
    OverwriteIAT).
    """
    if payload is None:
        raise mandatory_ie_missing("Payload")
    try:
        if isinstance(payload, PASSporTPayload):
            claims = replace(payload, dest_tn=list(payload.dest_tn), dest_uri=list(payload.dest_uri))
        else:
            claims = PASSporTPayload.from_dict(payload)
        if not claims.attest:
            claims.attest = default_attest
        if overwrite_iat:
            claims.iat = (time.time_ns() if now_ns is None else now_ns) // SECOND
        private_key = await keys.private_key(private_key_path)
        return format_identity(
            build_passport(PASSporTHeader(public_key_path_or_x5u), claims, private_key), public_key_path_or_x5u
        )
    except StirError as exc:
        raise stir_error(exc.reason) from None


# --------------------------------------------------------------------------------------- SessionS glue


def _as_str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _first_non_empty(*values: Any) -> str:
    for value in values:
        text = _as_str(value)
        if text:
            return text
    return ""


def _split(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [_as_str(v) for v in value if _as_str(v)]
    return [v for v in _as_str(value).split(INFIELD_SEP) if v]


def _ci_get(args: Mapping[str, Any], name: str) -> Any:
    if name in args:
        return args[name]
    low = name.lower()
    return next((v for k, v in args.items() if k.lower() == low), None)


async def authenticate_event(
    event: Mapping[str, Any], opts: Mapping[str, Any], cfg: StirConfig, keys: KeyStore, *, now_ns: int | None = None
) -> None:
    """ProcessEvent ``*stir_authenticate`` for one event, taking the APIOpts and defaults as CGRateS does.

    The originator TN defaults to the Account, the destination TN to the Destination; ``*stirATest`` ("A;B")
    replaces ``allowed_attest``; an absent or unreadable ``*stirPayloadMaxDuration`` falls back to the config.
    """
    attest: Iterable[str] = cfg.allowed_attest
    if _as_str(opts.get(OPT_STIR_ATEST)):
        attest = _split(opts[OPT_STIR_ATEST])
    max_dur = cfg.payload_maxduration_ns
    if opts.get(OPT_STIR_PAYLOAD_MAX_DURATION) not in (None, ""):
        try:
            max_dur = parse_duration(opts[OPT_STIR_PAYLOAD_MAX_DURATION])
        except DurationError:
            pass
    await stir_authenticate(
        _as_str(opts.get(OPT_STIR_IDENTITY)),
        _first_non_empty(opts.get(OPT_STIR_ORIGINATOR_TN), event.get("Account")),
        _as_str(opts.get(OPT_STIR_ORIGINATOR_URI)),
        _first_non_empty(opts.get(OPT_STIR_DESTINATION_TN), event.get("Destination")),
        _as_str(opts.get(OPT_STIR_DESTINATION_URI)),
        attest,
        max_dur,
        keys,
        now_ns=now_ns,
    )


async def initiate_event(
    event_id: str,
    event: Mapping[str, Any],
    opts: Mapping[str, Any],
    cfg: StirConfig,
    keys: KeyStore,
    *,
    now_ns: int | None = None,
) -> str:
    """ProcessEvent ``*stir_initiate`` for one event: the Identity header to put on the outgoing call.

    ``origid`` is the event ID and ``iat`` now. CGRateS reads the destination URIs from ``*stirDestinationTn``
    (a slip) and so always writes ``"uri":[""]``; the URIs here come from ``*stirDestinationURI``.
    """
    orig_uri = _as_str(opts.get(OPT_STIR_ORIGINATOR_URI))
    payload = PASSporTPayload(
        attest=_first_non_empty(opts.get(OPT_STIR_ATEST), cfg.default_attest),
        dest_tn=_split(_first_non_empty(opts.get(OPT_STIR_DESTINATION_TN), event.get("Destination"))),
        dest_uri=_split(opts.get(OPT_STIR_DESTINATION_URI)),
        iat=(time.time_ns() if now_ns is None else now_ns) // SECOND,
        orig_tn="" if orig_uri else _first_non_empty(opts.get(OPT_STIR_ORIGINATOR_TN), event.get("Account")),
        orig_uri=orig_uri,
        origid=event_id,
    )
    return await stir_identity(
        payload,
        _first_non_empty(opts.get(OPT_STIR_PUBLIC_KEY_PATH), cfg.publickey_path),
        _first_non_empty(opts.get(OPT_STIR_PRIVATE_KEY_PATH), cfg.privatekey_path),
        keys,
        default_attest=cfg.default_attest,
    )


async def api_stir_authenticate(args: Mapping[str, Any], cfg: StirConfig, keys: KeyStore) -> str:
    """``SessionSv1.STIRAuthenticate`` (V1STIRAuthenticateArgs: Attest, PayloadMaxDuration, Identity, ...)."""
    attest = _ci_get(args, "Attest")
    attest = (_split(attest) if isinstance(attest, str) else attest) or cfg.allowed_attest
    max_dur = cfg.payload_maxduration_ns
    if _as_str(_ci_get(args, "PayloadMaxDuration")):
        try:
            max_dur = parse_duration(_ci_get(args, "PayloadMaxDuration"))
        except DurationError as exc:
            raise RPCError(str(exc)) from None
    await stir_authenticate(
        _as_str(_ci_get(args, "Identity")),
        _as_str(_ci_get(args, "OriginatorTn")),
        _as_str(_ci_get(args, "OriginatorURI")),
        _as_str(_ci_get(args, "DestinationTn")),
        _as_str(_ci_get(args, "DestinationURI")),
        attest,
        max_dur,
        keys,
    )
    return "OK"


async def api_stir_identity(args: Mapping[str, Any] | None, cfg: StirConfig, keys: KeyStore) -> str:
    """``SessionSv1.STIRIdentity`` (V1STIRIdentityArgs: Payload, PublicKeyPath, PrivateKeyPath, OverwriteIAT)."""
    args = args or {}
    return await stir_identity(
        _ci_get(args, "Payload"),
        _first_non_empty(_ci_get(args, "PublicKeyPath"), cfg.publickey_path),
        _first_non_empty(_ci_get(args, "PrivateKeyPath"), cfg.privatekey_path),
        keys,
        default_attest=cfg.default_attest,
        overwrite_iat=bool(_ci_get(args, "OverwriteIAT")),
    )


__all__ = [
    "META_STIR_AUTHENTICATE",
    "META_STIR_INITIATE",
    "OPT_STIR_ATEST",
    "OPT_STIR_DESTINATION_TN",
    "OPT_STIR_DESTINATION_URI",
    "OPT_STIR_IDENTITY",
    "OPT_STIR_ORIGINATOR_TN",
    "OPT_STIR_ORIGINATOR_URI",
    "OPT_STIR_PAYLOAD_MAX_DURATION",
    "OPT_STIR_PRIVATE_KEY_PATH",
    "OPT_STIR_PUBLIC_KEY_PATH",
    "KeyStore",
    "PASSporTHeader",
    "PASSporTPayload",
    "ParsedIdentity",
    "StirConfig",
    "StirConfigError",
    "StirError",
    "api_stir_authenticate",
    "api_stir_identity",
    "authenticate_event",
    "build_passport",
    "check_identity_header",
    "check_payload",
    "format_identity",
    "initiate_event",
    "parse_identity",
    "signing_input",
    "stir_authenticate",
    "stir_identity",
    "verify_identity",
    "verify_signature",
]
