"""STI certificate chains: validated by cryptography's X.509 verifier with the STI extension policies.

The first group are chains the hand-written checks accepted although RFC 5280 refuses them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pycgrates.engine.stir.chain import validate_chain
from pycgrates.engine.stir.errors import StirError
from pycgrates.engine.stir.keys import KeyStore
from pycgrates.engine.stir.tnauth import TN_AUTH_LIST_OID, TNAuthEntry, encode_tn_auth_list

NOW = dt.datetime.now(dt.UTC)
TN_LIST = x509.UnrecognizedExtension(TN_AUTH_LIST_OID, encode_tn_auth_list([TNAuthEntry("spc", "1234")]))
UNKNOWN_EXT = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


class CA:
    """A key and its certificate; issues certificates below it."""

    def __init__(self, cn: str, issuer: CA | None = None, *, ca: bool = True, path_length: int | None = None,
                 basic_constraints: bool = True, extensions: tuple = ()) -> None:
        self.cn = cn
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cert = issue(cn, self.key.public_key(), issuer or self, ca=ca, path_length=path_length,
                          basic_constraints=basic_constraints, extensions=extensions)


def issue(cn: str, public_key, issuer: CA, *, ca: bool = False, path_length: int | None = None,
          basic_constraints: bool = True, extensions: tuple = (), days: tuple[int, int] = (-1, 365)):
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(issuer.cn))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW + dt.timedelta(days=days[0]))
        .not_valid_after(NOW + dt.timedelta(days=days[1]))
    )
    if basic_constraints:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical=critical)
    return builder.sign(issuer.key, hashes.SHA256())


def signer(issuer: CA, extensions: tuple = ((TN_LIST, False),), **kw) -> x509.Certificate:
    return issue("SHAKEN 1234", ec.generate_private_key(ec.SECP256R1()).public_key(), issuer,
                 extensions=extensions, **kw)


def refusal(chain: list, roots: list) -> str:
    with pytest.raises(StirError) as err:
        validate_chain(chain, roots)
    return err.value.reason


def _ku(*, digital_signature: bool = False, key_cert_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature, False, False, False, False, key_cert_sign, False, False, False)


@pytest.fixture
def root() -> CA:
    return CA("STI-CA root")


# ------------------------------------------------------------------------------- refused now, accepted before


def test_an_intermediate_below_a_path_length_of_zero_is_refused(root):
    constrained = CA("STI-CA policy", root, path_length=0)
    issuing = CA("STI-CA issuing", constrained)
    leaf = signer(issuing)
    assert refusal([leaf, issuing.cert, constrained.cert], [root.cert]) == (
        "certificate chain: path length constraint violated")
    validate_chain([signer(constrained), constrained.cert], [root.cert])  # within the constraint


def test_an_unknown_critical_extension_is_refused_on_the_signer_and_on_an_issuer(root):
    mid = CA("STI-CA intermediate", root)
    leaf = signer(mid, extensions=((TN_LIST, False), (UNKNOWN_EXT, True)))
    msg = refusal([leaf, mid.cert], [root.cert])
    assert msg.startswith("certificate chain: invalid extension: 1.3.6.1.4.1.99999.1: certificate contains "
                          "unaccounted-for critical extensions")
    assert "(in CN=SHAKEN 1234)" in msg
    odd_mid = CA("STI-CA odd", root, extensions=((UNKNOWN_EXT, True),))
    assert "unaccounted-for critical extensions" in refusal([signer(odd_mid), odd_mid.cert], [root.cert])
    # the same extension, not critical, may be ignored
    plain = signer(mid, extensions=((TN_LIST, False), (UNKNOWN_EXT, False)))
    validate_chain([plain, mid.cert], [root.cert])


def test_an_issuer_whose_key_usage_does_not_allow_certificate_signing_is_refused(root):
    mid = CA("STI-CA intermediate", root, extensions=((_ku(digital_signature=True), True),))
    msg = refusal([signer(mid), mid.cert], [root.cert])
    assert "issuer CN=STI-CA intermediate has keyUsage without keyCertSign" in msg
    good = CA("STI-CA good", root, extensions=((_ku(key_cert_sign=True), True),))
    validate_chain([signer(good), good.cert], [root.cert])


def test_name_constraints_of_an_issuer_are_enforced(root):
    mid = CA("STI-CA intermediate", root, extensions=(
        (x509.NameConstraints(permitted_subtrees=[x509.DNSName("sp.example")], excluded_subtrees=None), True),))
    outside = signer(mid, extensions=((TN_LIST, False),
                                      (x509.SubjectAlternativeName([x509.DNSName("other.example")]), False)))
    assert "no permitted name constraints matched SAN" in refusal([outside, mid.cert], [root.cert])
    inside = signer(mid, extensions=((TN_LIST, False),
                                     (x509.SubjectAlternativeName([x509.DNSName("sti.sp.example")]), False)))
    validate_chain([inside, mid.cert], [root.cert])


# ------------------------------------------------------------------------------------- kept from before


def test_issuers_must_be_cas(root):
    not_ca = CA("STI-CA intermediate", root, ca=False)
    assert "basicConstraints.cA must be asserted" in refusal([signer(not_ca), not_ca.cert], [root.cert])
    no_bc = CA("STI-CA bare", root, basic_constraints=False)
    assert "CA certificate has no basicConstraints" in refusal([signer(no_bc), no_bc.cert], [root.cert])


def test_the_signer_must_allow_digital_signatures(root):
    leaf = signer(root, extensions=((TN_LIST, False), (_ku(key_cert_sign=True), True)))
    assert "lacks the digitalSignature key usage" in refusal([leaf], [root.cert])
    validate_chain([signer(root, extensions=((TN_LIST, False), (_ku(digital_signature=True), True)))], [root.cert])


def test_a_critical_tn_auth_list_is_accounted_for(root):
    validate_chain([signer(root, extensions=((TN_LIST, True),))], [root.cert])


def test_refusals_name_the_certificate_or_the_missing_root(root):
    mid = CA("STI-CA intermediate", root)
    other = CA("Other CA")
    assert refusal([signer(mid), mid.cert], [other.cert]) == (
        "certificate chain: no configured STI-CA root issued CN=STI-CA root "
        "(add it to sessions.stir sti_ca_roots if it is trusted)")
    assert refusal([signer(mid)], [root.cert]).startswith(
        "certificate chain: no configured STI-CA root issued CN=STI-CA intermediate")
    assert refusal([signer(mid), mid.cert], []).startswith("certificate chain: no configured STI-CA root issued")
    not_yet = issue("STI-CA intermediate", mid.key.public_key(), root, ca=True, days=(2, 30))
    assert refusal([signer(mid), not_yet], [root.cert]).startswith(
        "certificate CN=STI-CA intermediate is not valid before")
    old_root = CA("STI-CA old")
    old_root.cert = issue("STI-CA old", old_root.key.public_key(), old_root, ca=True, days=(-30, -2))
    assert refusal([signer(old_root)], [old_root.cert]).startswith("certificate CN=STI-CA old expired at")
    mid_self = CA("STI-CA intermediate", root)  # a trusted intermediate alone is a trust anchor
    validate_chain([signer(mid_self)], [mid_self.cert])


def test_a_chain_longer_than_the_depth_limit_is_refused(root):
    chain, issuer = [], root
    for i in range(10):
        issuer = CA(f"STI-CA level {i}", issuer)
        chain.insert(0, issuer.cert)
    assert refusal([signer(issuer), *chain], [root.cert]).startswith("certificate chain:")


async def test_the_key_store_refuses_such_a_chain_with_the_stir_reason(tmp_path: Path, root):
    mid = CA("STI-CA intermediate", root)
    leaf = signer(mid, extensions=((TN_LIST, False), (UNKNOWN_EXT, True)))
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (leaf, mid.cert))
    (tmp_path / "chain.pem").write_bytes(pem)
    (tmp_path / "root.pem").write_bytes(root.cert.public_bytes(serialization.Encoding.PEM))
    async with KeyStore(x5u_allow=[str(tmp_path)], sti_ca_roots=[str(tmp_path / "root.pem")]) as ks:
        with pytest.raises(StirError, match="unaccounted-for critical extensions"):
            await ks.public_key(str(tmp_path / "chain.pem"))
    async with KeyStore(x5u_allow=[str(tmp_path)]) as ks:  # without roots nothing is validated
        assert (await ks.public_key(str(tmp_path / "chain.pem"))).certificates[0] == leaf
