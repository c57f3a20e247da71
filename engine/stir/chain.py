"""STIR/SHAKEN certificate paths: does the signer's certificate chain to a configured STI-CA root?

Path building and validation are cryptography's (``cryptography.x509.verification``, RFC 5280): signatures,
validity periods, basicConstraints (every issuer must be a CA), path length and name constraints, and refusal of
a certificate carrying a critical extension that nobody accounts for. What a STI certificate needs on top of that
is stated in the two extension policies below:

- an issuer (intermediate or root) must have basicConstraints, and when it has keyUsage, keyCertSign;
- the signing (end-entity) certificate, when it has keyUsage, must allow digitalSignature; its TNAuthList
  (RFC 8226) is accounted for here, critical or not, and checked against the PASSporT by the caller.

The client verifier is the one that fits: a STI certificate names no host to match (no server name) and carries
no extendedKeyUsage to require. The library's reason for a refusal is accurate but terse, so a refusal is
explained in the terms of the chain where possible (an expired certificate, no configured root above the chain).
Revocation is not checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.verification import Criticality, ExtensionPolicy, PolicyBuilder, Store, VerificationError

from pycgrates.engine.stir.errors import StirError
from pycgrates.engine.stir.tnauth import TN_AUTH_LIST_OID

#: Intermediates allowed between the signing certificate and the root.
MAX_CHAIN_DEPTH = 8

_ROOTS_HINT = "add it to sessions.stir sti_ca_roots if it is trusted"


class _TNAuthList(x509.ExtensionType):
    """The TNAuthList as a type the extension policy can name (cryptography has no class of its own for it)."""

    oid = TN_AUTH_LIST_OID

    def public_bytes(self) -> bytes:  # pragma: no cover - never built, only named in a policy
        raise NotImplementedError


def _issuer_key_usage(_policy: object, cert: x509.Certificate, ku: x509.KeyUsage | None) -> None:
    if ku is not None and not ku.key_cert_sign:
        raise ValueError(f"issuer {cert.subject.rfc4514_string()} has keyUsage without keyCertSign")


def _signer_key_usage(_policy: object, cert: x509.Certificate, ku: x509.KeyUsage | None) -> None:
    if ku is not None and not ku.digital_signature:
        raise ValueError("the signing certificate lacks the digitalSignature key usage")


def _policies() -> tuple[ExtensionPolicy, ExtensionPolicy]:
    """(issuers' policy, signing certificate's policy): every other extension may be present unless critical."""
    ca = (
        ExtensionPolicy.permit_all()
        .require_present(x509.BasicConstraints, Criticality.AGNOSTIC, None)
        .may_be_present(x509.KeyUsage, Criticality.AGNOSTIC, _issuer_key_usage)
    )
    ee = (
        ExtensionPolicy.permit_all()
        .may_be_present(x509.KeyUsage, Criticality.AGNOSTIC, _signer_key_usage)
        .may_be_present(_TNAuthList, Criticality.AGNOSTIC, None)
    )
    return ca, ee


def not_before(cert: x509.Certificate) -> datetime:
    return cert.not_valid_before_utc


def not_after(cert: x509.Certificate) -> datetime:
    return cert.not_valid_after_utc


def validate_chain(
    chain: Iterable[x509.Certificate], roots: Iterable[x509.Certificate], now: datetime | None = None
) -> None:
    """Raise StirError unless the signing certificate (first) chains to one of ``roots`` through the others."""
    certs = list(chain)
    trusted = list(roots)
    if not certs:
        raise StirError("certificate chain: the x5u holds a bare public key; sti_ca_roots needs a certificate")
    now = now or datetime.now(UTC)
    if not trusted:
        raise StirError(_explain(certs, trusted, now, "no STI-CA root is configured"))
    ca_policy, ee_policy = _policies()
    verifier = (
        PolicyBuilder()
        .store(Store(trusted))
        .time(now)
        .max_chain_depth(MAX_CHAIN_DEPTH)
        .extension_policies(ca_policy=ca_policy, ee_policy=ee_policy)
        .build_client_verifier()
    )
    try:
        verifier.verify(certs[0], certs[1:])
    except VerificationError as exc:
        raise StirError(_explain(certs, trusted, now, _reason(exc))) from None


# ------------------------------------------------------------------------------------------ explaining


_PROCESSING = re.compile(r"\s*\(encountered processing <Certificate\(subject=<Name\((.*?)\)>, \.\.\.\)>\)")
_PREFIXES = ("validation failed: ", "candidates exhausted: ", "fatal error: ")


def _reason(exc: VerificationError) -> str:
    """The library's reason without its framing: ``path length constraint violated (in CN=x)``."""
    text = str(exc)
    changed = True
    while changed:
        changed = False
        for prefix in _PREFIXES:
            if text.startswith(prefix):
                text, changed = text[len(prefix):], True
    return _PROCESSING.sub(lambda m: f" (in {m.group(1)})", text).strip()


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _path(certs: list[x509.Certificate]) -> list[x509.Certificate]:
    """The certificates from the signer up, each issued by the next, as far as the x5u's own certificates go."""
    path, pool = [certs[0]], certs[1:]
    while len(path) <= MAX_CHAIN_DEPTH + 1:
        nxt = next((c for c in pool if c is not path[-1] and _issued_by(path[-1], c)), None)
        if nxt is None:
            break
        pool.remove(nxt)
        path.append(nxt)
    return path


def _time_problem(cert: x509.Certificate, now: datetime) -> str | None:
    if now < not_before(cert):
        return f"certificate {cert.subject.rfc4514_string()} is not valid before {not_before(cert)}"
    if now > not_after(cert):
        return f"certificate {cert.subject.rfc4514_string()} expired at {not_after(cert)}"
    return None


def _explain(certs: list[x509.Certificate], roots: list[x509.Certificate], now: datetime, reason: str) -> str:
    """Why the chain was refused, in its own terms where they say more than the library's ``reason``."""
    path = _path(certs)
    for cert in path:
        problem = _time_problem(cert, now)
        if problem:
            return problem
    top = path[-1]
    issuers = [r for r in roots if r == top or r.subject == top.issuer]
    if not issuers:
        return f"certificate chain: no configured STI-CA root issued {top.issuer.rfc4514_string()} ({_ROOTS_HINT})"
    for root in issuers:
        problem = _time_problem(root, now)
        if problem:
            return problem
    return f"certificate chain: {reason}"


__all__ = ["MAX_CHAIN_DEPTH", "not_after", "not_before", "validate_chain"]
