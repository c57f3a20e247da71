"""STIR/SHAKEN: the reference Identity, CGRateS's checks and texts, signing, key loading, chains and TNAuthList."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.stir.keys import (
    TN_AUTH_LIST_OID,
    KeyStore,
    StirError,
    TNAuthEntry,
    decode_tn_auth_list,
    encode_tn_auth_list,
    parse_private_key,
    tn_authorized,
)
from pycgrates.engine.stir.service import (
    OPT_STIR_IDENTITY,
    OPT_STIR_PAYLOAD_MAX_DURATION,
    OPT_STIR_PRIVATE_KEY_PATH,
    OPT_STIR_PUBLIC_KEY_PATH,
    PASSporTHeader,
    PASSporTPayload,
    StirConfig,
    StirConfigError,
    api_stir_authenticate,
    api_stir_identity,
    authenticate_event,
    build_passport,
    format_identity,
    initiate_event,
    parse_identity,
    signing_input,
    stir_authenticate,
    stir_identity,
)
from pycgrates.engine.units import SECOND
from tests.conftest import shared_data

CGR_X5U = "/usr/share/cgrates/stir/stir_pubkey.pem"
REF_IAT = 1587038802


@pytest.fixture
def stir_dir() -> Path:
    return shared_data("stir")


@pytest.fixture
def ref_identity(stir_dir: Path) -> str:
    return (stir_dir / "identity_1001_1002.txt").read_text().strip()


@pytest.fixture
async def keys(stir_dir: Path):
    async with KeyStore(x5u_path_map={"/usr/share/cgrates/stir/": f"{stir_dir}/"}) as ks:
        yield ks


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def ref_payload(**changes) -> dict:
    payload = {"attest": "A", "dest": {"tn": ["1002"]}, "iat": REF_IAT, "orig": {"tn": "1001"}, "origid": "123456"}
    payload.update(changes)
    return payload


async def auth(identity: str, keys: KeyStore, orig="1001", dest="1002", attest=("*any",), max_ns=-1, **kw) -> None:
    await stir_authenticate(identity, orig, kw.get("orig_uri", ""), dest, kw.get("dest_uri", ""), list(attest),
                            max_ns, keys, now_ns=kw.get("now_ns"))  # fmt: skip


async def auth_error(identity: str, keys: KeyStore, **kw) -> str:
    with pytest.raises(RPCError) as info:
        await auth(identity, keys, **kw)
    return info.value.message


# ------------------------------------------------------------------------------------------ the reference Identity


async def test_reference_identity_verifies_with_no_age_limit(ref_identity, keys):
    await auth(ref_identity, keys)
    await auth(ref_identity, keys, attest=("A",))


async def test_tampered_payload_fails_the_signature(ref_identity, keys):
    jws, params = ref_identity.split(";", 1)
    header, _, signature = jws.split(".")
    forged = b64(json.dumps(ref_payload(orig={"tn": "1003"}), separators=(",", ":")).encode())
    msg = await auth_error(f"{header}.{forged}.{signature};{params}", keys, orig="1003")
    assert msg == "*stir_authenticate: crypto/ecdsa: verification error"


async def test_tampered_signature_fails(ref_identity, keys):
    jws, params = ref_identity.split(";", 1)
    header, payload, signature = jws.split(".")
    flipped = ("A" if signature[5] != "A" else "B").join((signature[:5], signature[6:]))
    msg = await auth_error(f"{header}.{payload}.{flipped};{params}", keys)
    assert msg == "*stir_authenticate: crypto/ecdsa: verification error"


async def test_wrong_originator_and_destination(ref_identity, keys):
    assert await auth_error(ref_identity, keys, orig="1003") == "*stir_authenticate: wrong originatorTn"
    assert await auth_error(ref_identity, keys, dest="1003") == "*stir_authenticate: wrong destinationTn"
    msg = await auth_error(ref_identity, keys, orig_uri="sip:1001@example.org")
    assert msg == "*stir_authenticate: wrong originatorURI"
    msg = await auth_error(ref_identity, keys, dest_uri="sip:1002@example.org")
    assert msg == "*stir_authenticate: wrong destinationURI"


async def test_expired_iat(ref_identity, keys):
    assert await auth_error(ref_identity, keys, max_ns=60 * SECOND) == "*stir_authenticate: expired payload"
    edge = REF_IAT * SECOND + 60 * SECOND
    await auth(ref_identity, keys, max_ns=60 * SECOND, now_ns=edge)
    msg = await auth_error(ref_identity, keys, max_ns=60 * SECOND, now_ns=edge + 1)
    assert msg == "*stir_authenticate: expired payload"


async def test_disallowed_attest(ref_identity, keys):
    assert await auth_error(ref_identity, keys, attest=("B", "C")) == "*stir_authenticate: wrong attest level"


async def test_checks_run_in_cgrates_order(ref_identity, keys):
    # attest before age before originator, as VerifyPayload does
    msg = await auth_error(ref_identity, keys, attest=("C",), max_ns=SECOND, orig="9")
    assert msg == "*stir_authenticate: wrong attest level"
    assert await auth_error(ref_identity, keys, max_ns=SECOND, orig="9") == "*stir_authenticate: expired payload"


# ------------------------------------------------------------------------------------------ signing


async def test_signing_input_equals_the_reference_byte_for_byte(ref_identity):
    pi = parse_identity(ref_identity)
    assert signing_input(PASSporTHeader(CGR_X5U), PASSporTPayload.from_dict(ref_payload())) == pi.signing_input


async def test_round_trip_with_the_reference_key(stir_dir, keys):
    identity = await stir_identity(ref_payload(), CGR_X5U, str(stir_dir / "stir_privatekey.pem"), keys)
    assert identity.endswith(f";info=<{CGR_X5U}>;alg=ES256;ppt=shaken")
    await auth(identity, keys)
    # ECDSA is randomized: a second signature differs, and verifies too
    again = await stir_identity(ref_payload(), CGR_X5U, str(stir_dir / "stir_privatekey.pem"), keys)
    assert again.split(".")[:2] == identity.split(".")[:2] and again != identity
    await auth(again, keys)


async def test_identity_defaults_attest_and_overwrites_iat(stir_dir, keys):
    now = 1_700_000_000 * SECOND + 123
    identity = await stir_identity(
        ref_payload(attest=""), CGR_X5U, str(stir_dir / "stir_privatekey.pem"), keys,
        default_attest="B", overwrite_iat=True, now_ns=now,
    )  # fmt: skip
    payload = parse_identity(identity).payload
    assert (payload.attest, payload.iat) == ("B", 1_700_000_000)


async def test_identity_errors(stir_dir, keys):
    with pytest.raises(RPCError, match=r"^MANDATORY_IE_MISSING: \[Payload\]$"):
        await stir_identity(None, CGR_X5U, str(stir_dir / "stir_privatekey.pem"), keys)
    with pytest.raises(RPCError) as info:
        await stir_identity(ref_payload(), CGR_X5U, str(stir_dir / "missing.pem"), keys)
    assert info.value.message == f"*stir_authenticate: open {stir_dir}/missing.pem: no such file or directory"
    with pytest.raises(RPCError, match=r"^\*stir_authenticate: Key is not a valid ECDSA private key"):
        await stir_identity(ref_payload(), CGR_X5U, str(stir_dir / "stir_pubkey.pem"), keys)


def test_payload_json_is_gos():
    p = PASSporTPayload.from_dict(ref_payload())
    assert p.to_json() == (
        b'{"attest":"A","dest":{"tn":["1002"]},"iat":1587038802,"orig":{"tn":"1001"},"origid":"123456"}'
    )
    empty = PASSporTPayload(attest="C", orig_uri="sip:a&b@x<y>", origid="é")
    assert empty.to_json() == (
        b'{"attest":"C","dest":{},"iat":0,"orig":{"uri":"sip:a\\u0026b@x\\u003cy\\u003e"},"origid":"\xc3\xa9"}'
    )
    assert PASSporTPayload.from_dict(empty.as_dict()) == empty
    # Go matches struct fields case-insensitively
    go_names = {"ATTest": "B", "Dest": {"Tn": ["9"]}, "IAT": 5, "OrigID": "x"}
    assert PASSporTPayload.from_dict(go_names) == PASSporTPayload(attest="B", dest_tn=["9"], iat=5, origid="x")
    assert PASSporTHeader("u").to_json() == b'{"alg":"ES256","ppt":"shaken","typ":"passport","x5u":"u"}'


def test_payload_type_errors_in_gos_words():
    with pytest.raises(StirError, match=r"cannot unmarshal string into Go struct field PASSporTPayload\.iat of type"):
        PASSporTPayload.from_dict(ref_payload(iat="1587038802"))
    with pytest.raises(StirError, match=r"cannot unmarshal number 1\.5 into Go struct field PASSporTPayload\.iat"):
        parse_identity(b64(b"{}") + "." + b64(b'{"iat":1.5}') + ".sig;info=<x>")
    with pytest.raises(StirError, match=r"PASSporTPayload\.dest\.tn of type"):
        PASSporTPayload.from_dict(ref_payload(dest={"tn": "1002"}))


# ------------------------------------------------------------------------------------------ Identity header parsing


async def test_identity_header_errors(ref_identity, keys):
    jws = ref_identity.split(";", 1)[0]
    info = f";info=<{CGR_X5U}>"
    cases = {
        jws: "missing parts of the message header",
        "a.b" + info + ";ppt=shaken": "wrong header format",
        jws + ";ppt=shaken": "wrong header: the info parameter is missing",
        jws + ";info=<>;ppt=shaken": "wrong header: the info parameter is empty",
        jws + info: "wrong header: the ppt parameter is missing",
        jws + info + ";alg=RS256;ppt=shaken": "wrong header: the alg parameter is 'RS256'; only ES256 is supported",
        jws + info + ";ppt=div": "wrong header: the ppt parameter is 'div'; expected shaken",
        jws + ";info=<https://other.example/cert.pem>;ppt=shaken": "wrong header: the PASSporT x5u",
        "e30*.e30.sig" + info + ";ppt=shaken": "illegal base64 data at input byte 3",
    }
    for identity, expected in cases.items():
        msg = await auth_error(identity, keys)
        assert msg.startswith("*stir_authenticate: " + expected), (identity, msg)


async def test_identity_header_tolerance(ref_identity, keys):
    jws = ref_identity.split(";", 1)[0]
    # alg may be absent (the JWT header carries it), ppt may be quoted, names are case-insensitive, folding ignored
    await auth(f"{jws};info=<{CGR_X5U}>;ppt=shaken", keys)
    await auth(f'{jws};info=<{CGR_X5U}>;alg=ES256;ppt="shaken"', keys)
    await auth(f"{jws[:40]}\r\n {jws[40:]} ;INFO=<{CGR_X5U}>;PPT=shaken", keys)


async def test_jwt_header_fields_are_checked(stir_dir, keys):
    key = parse_private_key((stir_dir / "stir_privatekey.pem").read_bytes())
    payload = PASSporTPayload.from_dict(ref_payload())
    for field, value, text in (("typ", "JWT", "typ"), ("ppt", "div", "ppt"), ("alg", "ES384", "alg")):
        header = PASSporTHeader(CGR_X5U, **{field: value})
        identity = format_identity(build_passport(header, payload, key), CGR_X5U)
        msg = await auth_error(identity, keys)
        assert msg.startswith(f"*stir_authenticate: wrong header: the PASSporT {text} is '{value}'")


# ------------------------------------------------------------------------------------------ key retrieval


async def test_cache_one_read_for_two_verifications(ref_identity, keys):
    await auth(ref_identity, keys)
    await auth(ref_identity, keys)
    assert keys.fetches == 1
    keys.clear()
    await auth(ref_identity, keys)
    assert keys.fetches == 2


async def test_local_path_outside_the_allow_list_is_refused(ref_identity, stir_dir, tmp_path):
    async with KeyStore(x5u_allow=[str(tmp_path)], x5u_path_map={"/usr/share/cgrates/stir/": f"{stir_dir}/"}) as ks:
        msg = await auth_error(ref_identity, ks)
        assert msg == (
            f"*stir_authenticate: x5u {stir_dir}/stir_pubkey.pem is not allowed "
            "(add its directory to sessions.stir x5u_allow)"
        )
        assert ks.fetches == 0
    # a prefix of a directory name does not allow its siblings
    path_map = {"/usr/share/cgrates/stir/": f"{stir_dir}/"}
    async with KeyStore(x5u_allow=[str(stir_dir)[:-1]], x5u_path_map=path_map) as ks:
        assert "is not allowed" in await auth_error(ref_identity, ks)


async def test_local_read_limits(stir_dir, tmp_path):
    big = tmp_path / "big.pem"
    big.write_bytes((stir_dir / "stir_pubkey.pem").read_bytes() + b"#" * 100)
    async with KeyStore(x5u_max_bytes=200) as ks:
        with pytest.raises(StirError, match=r"big\.pem is larger than sessions\.stir x5u_max_bytes"):
            await ks.public_key(str(big))
        with pytest.raises(StirError, match="not a regular file"):
            await ks.public_key(str(tmp_path))
    async with KeyStore() as ks:
        assert (await ks.public_key(str(stir_dir / "stir_cert.pem"))).certificates


async def test_failures_are_cached_briefly(tmp_path):
    clock = [0]
    path = tmp_path / "late.pem"
    async with KeyStore(negative_ttl_s=30, clock=lambda: clock[0]) as ks:
        with pytest.raises(StirError, match="no such file"):
            await ks.public_key(str(path))
        path.write_bytes(_key_pem(ec.generate_private_key(ec.SECP256R1()).public_key()))
        with pytest.raises(StirError, match="no such file"):
            await ks.public_key(str(path))
        assert ks.fetches == 1
        clock[0] += 31 * SECOND
        await ks.public_key(str(path))
        assert ks.fetches == 2


async def test_key_format_errors(tmp_path):
    async with KeyStore() as ks:
        (tmp_path / "junk.pem").write_bytes(b"not a key")
        with pytest.raises(StirError, match=r"^Invalid Key: Key must be PEM encoded"):
            await ks.public_key(str(tmp_path / "junk.pem"))
        p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
        (tmp_path / "p384.pem").write_bytes(_key_pem(p384))
        with pytest.raises(StirError, match="ES256 needs P-256"):
            await ks.public_key(str(tmp_path / "p384.pem"))


# ------------------------------------------------------------------------------------------ chains and TNAuthList


def _key_pem(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject, key, issuer=None, issuer_key=None, ca=False, tn_list=None, days=(-1, 365)):
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer or subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + dt.timedelta(days=days[0]))
        .not_valid_after(now + dt.timedelta(days=days[1]))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if tn_list is not None:
        ext = x509.UnrecognizedExtension(TN_AUTH_LIST_OID, encode_tn_auth_list(tn_list))
        builder = builder.add_extension(ext, critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


def _pem(*certs) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


@pytest.fixture
def pki(tmp_path):
    """An STI-CA root, an intermediate, and a signer leaf (with a TNAuthList) written as an x5u chain."""
    root_key, mid_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = _cert("STI-CA root", root_key, ca=True)
    mid = _cert("STI-CA intermediate", mid_key, "STI-CA root", root_key, ca=True)
    tn_list = [TNAuthEntry("spc", "1234"), TNAuthEntry("one", "1001"), TNAuthEntry("range", "15550000", 100)]
    leaf = _cert("SHAKEN 1234", leaf_key, "STI-CA intermediate", mid_key, tn_list=tn_list)
    (tmp_path / "root.pem").write_bytes(_pem(root))
    (tmp_path / "chain.pem").write_bytes(_pem(leaf, mid))
    (tmp_path / "leaf.key").write_bytes(
        leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())
    )  # fmt: skip
    other_key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "other_root.pem").write_bytes(_pem(_cert("Other CA", other_key, ca=True)))
    expired = _cert("SHAKEN old", leaf_key, "STI-CA intermediate", mid_key, days=(-30, -1))
    (tmp_path / "expired.pem").write_bytes(_pem(expired, mid))
    plain = _cert("SHAKEN plain", leaf_key, "STI-CA intermediate", mid_key)
    (tmp_path / "plain.pem").write_bytes(_pem(plain, mid))
    (tmp_path / "bare.pem").write_bytes(_key_pem(leaf_key.public_key()))
    return tmp_path


async def _signed(pki: Path, x5u: str, orig_tn: str = "1001") -> str:
    async with KeyStore() as signer:
        return await stir_identity(ref_payload(orig={"tn": orig_tn}), x5u, str(pki / "leaf.key"), signer)


async def test_chain_validation_passes_to_a_configured_root(pki):
    identity = await _signed(pki, str(pki / "chain.pem"))
    async with KeyStore(sti_ca_roots=[str(pki / "root.pem")]) as ks:
        await auth(identity, ks)
        signer = await ks.public_key(str(pki / "chain.pem"))
        assert len(signer.certificates) == 2


async def test_chain_validation_failures(pki):
    async with KeyStore(sti_ca_roots=[str(pki / "other_root.pem")]) as ks:
        msg = await auth_error(await _signed(pki, str(pki / "chain.pem")), ks)
        assert msg.startswith("*stir_authenticate: certificate chain: no configured STI-CA root issued CN=STI-CA root")
    async with KeyStore(sti_ca_roots=[str(pki / "root.pem")]) as ks:
        msg = await auth_error(await _signed(pki, str(pki / "expired.pem")), ks)
        assert msg.startswith("*stir_authenticate: certificate CN=SHAKEN old expired at")
        msg = await auth_error(await _signed(pki, str(pki / "bare.pem")), ks)
        assert msg.startswith("*stir_authenticate: certificate chain: the x5u holds a bare public key")
    async with KeyStore(sti_ca_roots=[str(pki / "missing.pem")]) as ks:
        msg = await auth_error(await _signed(pki, str(pki / "chain.pem")), ks)
        assert msg.startswith(f"*stir_authenticate: sessions.stir sti_ca_roots {pki}/missing.pem")


def test_tn_auth_list_codec():
    entries = (TNAuthEntry("spc", "1234"), TNAuthEntry("range", "15550000", 300), TNAuthEntry("one", "12155551212"))
    der = encode_tn_auth_list(entries)
    assert der[:2] == b"\x30" + bytes([len(der) - 2]) and der[2] == 0xA0
    assert decode_tn_auth_list(der) == entries
    # implicitly tagged entries, as some issuers write them, are read too
    implicit = b"\x30\x0c\x80\x041234\x82\x041001"
    assert decode_tn_auth_list(implicit) == (TNAuthEntry("spc", "1234"), TNAuthEntry("one", "1001"))
    with pytest.raises(ValueError):
        decode_tn_auth_list(b"\x30\x05\xa0\x03\x16")
    assert tn_authorized(entries, "+1555-0299") and not tn_authorized(entries, "15550300")
    assert not tn_authorized(entries, "999") and tn_authorized(entries, "999", spc="1234")


async def test_tn_auth_list_check(pki):
    async with KeyStore(check_tn_auth_list=True) as ks:
        await auth(await _signed(pki, str(pki / "chain.pem")), ks)
        await auth(await _signed(pki, str(pki / "chain.pem"), "15550042"), ks, orig="15550042")
        msg = await auth_error(await _signed(pki, str(pki / "chain.pem"), "1003"), ks, orig="1003")
        assert msg == (
            "*stir_authenticate: TNAuthList: originator TN 1003 is not authorized by the certificate "
            "(spc 1234, one 1001, range 15550000+100)"
        )
        msg = await auth_error(await _signed(pki, str(pki / "plain.pem")), ks)
        assert msg == "*stir_authenticate: TNAuthList: the signing certificate has no TNAuthList extension"
    async with KeyStore(check_tn_auth_list=True, tn_spc={"100": "1234"}) as ks:
        await auth(await _signed(pki, str(pki / "chain.pem"), "1003"), ks, orig="1003")


# ------------------------------------------------------------------------------------------ config and SessionS glue


def test_config_defaults_and_errors():
    cfg = StirConfig.from_config(
        {"allowed_attest": ["*any"], "payload_maxduration": "-1", "default_attest": "A",
         "publickey_path": "", "privatekey_path": ""}
    )  # fmt: skip
    assert cfg == StirConfig()
    assert cfg.payload_maxduration_ns == -1 and cfg.x5u_allow == ("/",)
    cfg = StirConfig.from_config({"payload_maxduration": "1m", "x5u_timeout": "500ms", "x5u_allow": ["https://cr/"]})
    assert (cfg.payload_maxduration_ns, cfg.x5u_timeout_ns) == (60 * SECOND, SECOND // 2)
    assert cfg.x5u_allow == ("https://cr/",)
    for bad, field in (
        ({"allowed_attest": "A"}, "allowed_attest"),
        ({"payload_maxduration": "soon"}, "payload_maxduration"),
        ({"x5u_max_bytes": 0}, "x5u_max_bytes"),
        ({"check_tn_auth_list": "yes"}, "check_tn_auth_list"),
        ({"x5u_path_map": ["a"]}, "x5u_path_map"),
    ):
        with pytest.raises(StirConfigError, match=f"sessions.stir.{field}"):
            StirConfig.from_config(bad)


async def test_process_event_initiate_then_authenticate(stir_dir, keys):
    cfg = StirConfig.from_config({"publickey_path": CGR_X5U, "privatekey_path": str(stir_dir / "stir_privatekey.pem")})
    event = {"Account": "1001", "Destination": "1002"}
    identity = await initiate_event("ev1", event, {}, cfg, keys)
    payload = parse_identity(identity).payload
    assert (payload.orig_tn, payload.dest_tn, payload.dest_uri, payload.origid) == ("1001", ["1002"], [], "ev1")
    await authenticate_event(event, {OPT_STIR_IDENTITY: identity, OPT_STIR_PAYLOAD_MAX_DURATION: "1m"}, cfg, keys)
    with pytest.raises(RPCError, match="wrong originatorTn"):
        await authenticate_event({**event, "Account": "1003"}, {OPT_STIR_IDENTITY: identity}, cfg, keys)
    # the per-event key options win over the config
    opts = {OPT_STIR_PUBLIC_KEY_PATH: "/elsewhere.pem", OPT_STIR_PRIVATE_KEY_PATH: str(stir_dir / "nope.pem")}
    with pytest.raises(RPCError, match=r"nope\.pem: no such file"):
        await initiate_event("ev2", event, opts, cfg, keys)


async def test_api_methods(ref_identity, stir_dir, keys):
    cfg = StirConfig.from_config({"allowed_attest": ["C"], "privatekey_path": str(stir_dir / "stir_privatekey.pem")})
    args = {"Identity": ref_identity, "OriginatorTn": "1001", "DestinationTn": "1002", "Attest": ["A"]}
    assert await api_stir_authenticate(args, cfg, keys) == "OK"
    with pytest.raises(RPCError, match="wrong attest level"):
        await api_stir_authenticate({**args, "Attest": []}, cfg, keys)
    with pytest.raises(RPCError, match="expired payload"):
        await api_stir_authenticate({**args, "PayloadMaxDuration": "1h"}, cfg, keys)
    identity = await api_stir_identity({"Payload": ref_payload(attest=""), "PublicKeyPath": CGR_X5U}, cfg, keys)
    assert parse_identity(identity).payload.attest == "A"
    with pytest.raises(RPCError, match=r"MANDATORY_IE_MISSING: \[Payload\]"):
        await api_stir_identity({}, cfg, keys)
