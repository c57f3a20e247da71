"""STIR/SHAKEN keys and certificates: where they come from, whether they are trusted, what numbers they cover.

A verifier is told by the PASSporT which certificate to use (the ``x5u``), so the location is attacker-chosen:

- An ``x5u`` is a local file path or an http(s) URL. It is first rewritten by ``x5u_path_map`` (prefix →
  replacement, e.g. to serve ``/usr/share/cgrates/stir/`` from elsewhere), then checked against ``x5u_allow``
  *before* anything is opened or any connection made: URL entries match scheme, host and port exactly and the path
  by prefix; entries starting with ``/`` match local paths (symlinks resolved) by directory prefix.
- Reads are limited to ``x5u_max_bytes`` and URL fetches to ``x5u_timeout``; redirects are refused (the target
  would escape the allow-list).
- What was read is cached for ``cache_ttl`` (never beyond the certificate's notAfter); a failure is cached briefly
  so that a flood of calls naming a dead URL does not become a flood of fetches. Concurrent look-ups of one ``x5u``
  share one fetch.
- Optionally the certificate chain is validated up to a configured STI-CA root (:mod:`engine.stir.chain`), and
  the leaf's TNAuthList (RFC 8226, :mod:`engine.stir.tnauth`) must authorize the originating number or its
  service provider code (SPC).
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_private_key, load_pem_public_key

from pycgrates.engine.stir.chain import not_after, validate_chain
from pycgrates.engine.stir.errors import StirError
from pycgrates.engine.stir.tnauth import (
    TN_AUTH_LIST_OID,
    TNAuthEntry,
    decode_tn_auth_list,
    encode_tn_auth_list,
    normalize_tn,
    spc_for_tn,
    tn_auth_list_of,
    tn_authorized,
)
from pycgrates.engine.tasks import Supervisor

# jwt-go's wording, which CGRateS passes through to the caller.
ERR_KEY_MUST_BE_PEM = "Invalid Key: Key must be PEM encoded PKCS1 or PKCS8 private key"
ERR_NOT_EC_PUBLIC_KEY = "Key is not a valid ECDSA public key"
ERR_NOT_EC_PRIVATE_KEY = "Key is not a valid ECDSA private key"

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----.+?-----END \1-----", re.DOTALL)


@dataclass(frozen=True)
class SignerKey:
    """The public key an ``x5u`` names, with the certificates it came in (leaf first; empty for a bare key)."""

    source: str
    public_key: ec.EllipticCurvePublicKey
    certificates: tuple[x509.Certificate, ...] = ()
    tn_auth_list: tuple[TNAuthEntry, ...] | None = None  # None: the leaf has no TNAuthList (or there is no leaf)


@dataclass
class _Entry:
    expires_ns: int
    value: Any = None
    error: str | None = None


# ---------------------------------------------------------------------------------------- key material


def parse_public_key(data: bytes) -> tuple[ec.EllipticCurvePublicKey, tuple[x509.Certificate, ...]]:
    """A P-256 public key from a PEM public key, a PEM certificate chain (leaf first) or a DER certificate/key."""
    blocks = list(_PEM_BLOCK.finditer(data))
    certs: tuple[x509.Certificate, ...] = ()
    try:
        if blocks:
            kind = blocks[0].group(1)
            if kind == b"PUBLIC KEY":
                key = load_pem_public_key(blocks[0].group(0))
            elif kind == b"CERTIFICATE":
                certs = tuple(x509.load_pem_x509_certificate(b.group(0)) for b in blocks if b.group(1) == kind)
                key = certs[0].public_key()
            else:
                raise StirError(f"{ERR_KEY_MUST_BE_PEM} (found a {kind.decode()} block)")
        elif b"-----BEGIN" in data:
            raise StirError(ERR_KEY_MUST_BE_PEM)
        else:
            try:
                certs = (x509.load_der_x509_certificate(data),)
                key = certs[0].public_key()
            except ValueError:
                try:
                    key = load_der_public_key(data)
                except ValueError:
                    raise StirError(ERR_KEY_MUST_BE_PEM) from None
    except StirError:
        raise
    except (ValueError, TypeError) as exc:
        raise StirError(f"cannot read the key or certificate: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise StirError(ERR_NOT_EC_PUBLIC_KEY)
    if not isinstance(key.curve, ec.SECP256R1):
        raise StirError(f"{ERR_NOT_EC_PUBLIC_KEY}: curve {key.curve.name}, ES256 needs P-256 (secp256r1)")
    return key, certs


def parse_private_key(data: bytes) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from PEM (SEC1 ``EC PRIVATE KEY`` or PKCS#8 ``PRIVATE KEY``, unencrypted)."""
    block = _PEM_BLOCK.search(data)
    if block is None:
        raise StirError(ERR_KEY_MUST_BE_PEM)
    try:
        key = load_pem_private_key(block.group(0), password=None)
    except TypeError as exc:  # encrypted
        raise StirError(f"{ERR_NOT_EC_PRIVATE_KEY}: {exc}") from exc
    except ValueError as exc:
        raise StirError(f"{ERR_NOT_EC_PRIVATE_KEY}: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise StirError(ERR_NOT_EC_PRIVATE_KEY)
    if not isinstance(key.curve, ec.SECP256R1):
        raise StirError(f"{ERR_NOT_EC_PRIVATE_KEY}: curve {key.curve.name}, ES256 needs P-256 (secp256r1)")
    return key


def load_certificates(path: str) -> list[x509.Certificate]:
    """Every certificate of a PEM (or DER) file; for ``sti_ca_roots``."""
    with open(path, "rb") as fh:
        data = fh.read()
    blocks = [b.group(0) for b in _PEM_BLOCK.finditer(data) if b.group(1) == b"CERTIFICATE"]
    if blocks:
        return [x509.load_pem_x509_certificate(b) for b in blocks]
    return [x509.load_der_x509_certificate(data)]


# ------------------------------------------------------------------------------------------- locations


def is_url(location: str) -> bool:
    return "://" in location


@dataclass(frozen=True)
class _Allowed:
    scheme: str
    host: str
    port: int | None
    path: str


def _default_port(scheme: str) -> int | None:
    return {"http": 80, "https": 443}.get(scheme)


def _split_url(url: str) -> _Allowed:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise StirError(f"x5u {url}: only http and https URLs or local paths are supported")
    if parts.username is not None or parts.password is not None:
        raise StirError(f"x5u {url}: user information in the URL is refused")
    try:
        port = parts.port or _default_port(scheme)
    except ValueError as exc:
        raise StirError(f"x5u {url}: {exc}") from exc
    path = parts.path or "/"
    if any(seg in (".", "..") for seg in unquote(path).split("/")):
        raise StirError(f"x5u {url}: dot segments in the path are refused")
    return _Allowed(scheme, (parts.hostname or "").lower(), port, path)


class KeyStore:
    """Loads, checks and caches STIR/SHAKEN keys and certificates (see the module docstring)."""

    def __init__(
        self,
        *,
        x5u_allow: Iterable[str] = ("/",),
        x5u_path_map: Mapping[str, str] | None = None,
        x5u_max_bytes: int = 65536,
        x5u_timeout_s: float = 2.0,
        sti_ca_roots: Iterable[str] = (),
        check_tn_auth_list: bool = False,
        tn_spc: Mapping[str, str] | None = None,
        cache_ttl_s: float = 3 * 3600,
        negative_ttl_s: float = 30.0,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self.x5u_max_bytes = int(x5u_max_bytes)
        self.x5u_timeout_s = float(x5u_timeout_s)
        self.check_tn_auth_list = bool(check_tn_auth_list)
        self.tn_spc = dict(tn_spc or {})
        self.path_map = sorted((x5u_path_map or {}).items(), key=lambda kv: -len(kv[0]))
        self._allow_urls: list[_Allowed] = []
        self._allow_paths: list[str] = []
        for entry in x5u_allow:
            if is_url(entry):
                try:
                    self._allow_urls.append(_split_url(entry))
                except StirError as exc:
                    raise ValueError(f"sessions.stir.x5u_allow: {exc}") from None
            elif entry:
                self._allow_paths.append(os.path.realpath(entry))
        self.sti_ca_roots = tuple(sti_ca_roots)
        self._roots: list[x509.Certificate] | None = None
        self._ttl_ns = int(cache_ttl_s * 1e9)
        self._negative_ttl_ns = int(negative_ttl_s * 1e9)
        self._clock = clock
        self._cache: dict[tuple[str, str], _Entry] = {}
        self._inflight: dict[tuple[str, str], asyncio.Task] = {}
        self._tasks = Supervisor("stir keys")  # the shared loads; a caller that gives up does not cancel them
        self._session: aiohttp.ClientSession | None = None
        self.fetches = 0  # reads that reached a file or the network (for metrics and tests)

    @classmethod
    def from_config(cls, cfg: Any, **overrides: Any) -> KeyStore:
        """Build from a :class:`engine.stir.service.StirConfig`."""
        kwargs: dict[str, Any] = dict(
            x5u_allow=cfg.x5u_allow,
            x5u_path_map=cfg.x5u_path_map,
            x5u_max_bytes=cfg.x5u_max_bytes,
            x5u_timeout_s=cfg.x5u_timeout_ns / 1e9,
            sti_ca_roots=cfg.sti_ca_roots,
            check_tn_auth_list=cfg.check_tn_auth_list,
            tn_spc=cfg.tn_spc,
        )
        kwargs.update(overrides)
        return cls(**kwargs)

    # ------------------------------------------------------------------------------------------------ lifecycle

    async def close(self) -> None:
        """Stop the loads under way and close the HTTP client (a later look-up starts afresh)."""
        await self._tasks.stop()
        self._tasks = Supervisor("stir keys")
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> KeyStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def clear(self) -> None:
        """Forget every cached key (e.g. on CacheSv1.Clear of ``*stir`` or a config reload)."""
        self._cache.clear()

    # ------------------------------------------------------------------------------------------------ public API

    def resolve(self, location: str) -> str:
        """Apply ``x5u_path_map`` and check the result against ``x5u_allow``; raise StirError when refused.

        Nothing is opened or contacted here: this runs before any read.
        """
        mapped = location
        for prefix, replacement in self.path_map:
            if location.startswith(prefix):
                mapped = replacement + location[len(prefix) :]
                break
        if not mapped:
            raise StirError("empty x5u")
        if is_url(mapped):
            if mapped.lower().startswith("file://"):
                mapped = unquote(urlsplit(mapped).path)
            else:
                url = _split_url(mapped)
                for allowed in self._allow_urls:
                    if (
                        url.scheme == allowed.scheme
                        and url.host == allowed.host
                        and url.port == allowed.port
                        and url.path.startswith(allowed.path)
                    ):
                        return mapped
                raise StirError(f"x5u {mapped} is not allowed (add its URL prefix to sessions.stir x5u_allow)")
        real = os.path.realpath(mapped)
        for allowed in self._allow_paths:
            if real == allowed or real.startswith(allowed.rstrip("/") + "/"):
                return real
        raise StirError(f"x5u {mapped} is not allowed (add its directory to sessions.stir x5u_allow)")

    async def public_key(self, x5u: str) -> SignerKey:
        """The key (and certificates) at ``x5u``, validated against ``sti_ca_roots`` when configured."""
        source = self.resolve(x5u)
        return await self._cached(("pub", source), lambda: self._load_public(source))

    async def private_key(self, path: str) -> ec.EllipticCurvePrivateKey:
        """The signing key at ``path`` (a trusted, configured location: local paths skip ``x5u_allow``)."""
        source = self.resolve(path) if is_url(path) and not path.lower().startswith("file://") else path
        return await self._cached(("prv", source), lambda: self._load_private(source))

    def authorize_tn(self, signer: SignerKey, tn: str) -> None:
        """Raise StirError unless the leaf's TNAuthList covers ``tn`` (or the SPC ``tn_spc`` gives for it)."""
        if not signer.certificates:
            raise StirError("TNAuthList: the x5u holds a bare public key, not a certificate with a TNAuthList")
        if signer.tn_auth_list is None:
            raise StirError("TNAuthList: the signing certificate has no TNAuthList extension")
        if not tn:
            raise StirError("TNAuthList: the PASSporT has no orig.tn to check")
        spc = spc_for_tn(tn, self.tn_spc) if self.tn_spc else None
        if not tn_authorized(signer.tn_auth_list, tn, spc):
            entries = ", ".join(str(e) for e in signer.tn_auth_list)
            hint = f" (SPC {spc})" if spc else ""
            raise StirError(f"TNAuthList: originator TN {tn}{hint} is not authorized by the certificate ({entries})")

    # ------------------------------------------------------------------------------------------------ internals

    async def _cached(self, key: tuple[str, str], load: Callable[[], Any]) -> Any:
        now = self._clock()
        entry = self._cache.get(key)
        if entry is not None:
            if entry.expires_ns > now:
                if entry.error is not None:
                    raise StirError(entry.error)
                return entry.value
            del self._cache[key]
        task = self._inflight.get(key)
        if task is None:
            task = self._tasks.spawn(self._load_into_cache(key, load), name=f"load {key[1]}")
            self._inflight[key] = task
            task.add_done_callback(lambda t: self._loaded(key, t))
        outcome = await asyncio.shield(task)
        if isinstance(outcome, StirError):
            raise StirError(outcome.reason)
        return outcome

    def _loaded(self, key: tuple[str, str], task: asyncio.Task) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]

    async def _load_into_cache(self, key: tuple[str, str], load: Callable[[], Any]) -> Any:
        """The loaded value, or the StirError that refused it (returned: a refusal is an answer, not a failure of
        the task; anything else raised is a bug the supervisor logs)."""
        try:
            value, expires_ns = await load()
        except StirError as exc:
            self._cache[key] = _Entry(self._clock() + self._negative_ttl_ns, error=exc.reason)
            return exc
        self._cache[key] = _Entry(min(self._clock() + self._ttl_ns, expires_ns), value=value)
        return value

    async def _read(self, source: str) -> bytes:
        self.fetches += 1
        if is_url(source):
            return await self._fetch(source)
        return await asyncio.to_thread(self._read_file, source, self.x5u_max_bytes)

    @staticmethod
    def _read_file(path: str, max_bytes: int) -> bytes:
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except OSError as exc:
            raise StirError(f"open {path}: {_go_errno_text(exc)}") from exc
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise StirError(f"open {path}: not a regular file")
            with os.fdopen(fd, "rb", closefd=False) as fh:
                data = fh.read(max_bytes + 1)
        except OSError as exc:
            raise StirError(f"read {path}: {_go_errno_text(exc)}") from exc
        finally:
            os.close(fd)
        if len(data) > max_bytes:
            raise StirError(f"{path} is larger than sessions.stir x5u_max_bytes ({max_bytes} bytes)")
        return data

    async def _fetch(self, url: str) -> bytes:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(trust_env=False)
        limit = self.x5u_max_bytes
        timeout = aiohttp.ClientTimeout(total=self.x5u_timeout_s)
        try:
            async with self._session.get(url, timeout=timeout, allow_redirects=False) as resp:
                if resp.status != 200:
                    raise StirError(f"http status error: {resp.status}")
                if resp.content_length is not None and resp.content_length > limit:
                    raise StirError(f"x5u {url} is larger than sessions.stir x5u_max_bytes ({limit} bytes)")
                body = bytearray()
                async for chunk in resp.content.iter_chunked(8192):
                    body += chunk
                    if len(body) > limit:
                        raise StirError(f"x5u {url} is larger than sessions.stir x5u_max_bytes ({limit} bytes)")
                return bytes(body)
        except TimeoutError as exc:
            raise StirError(f"x5u {url}: no answer within {self.x5u_timeout_s:g}s (sessions.stir x5u_timeout)") from exc
        except aiohttp.ClientError as exc:
            raise StirError(f"x5u {url}: {exc}") from exc

    def _trusted_roots(self) -> list[x509.Certificate]:
        if self._roots is None:
            roots: list[x509.Certificate] = []
            for path in self.sti_ca_roots:
                try:
                    roots.extend(load_certificates(path))
                except (OSError, ValueError) as exc:
                    raise StirError(f"sessions.stir sti_ca_roots {path}: {exc}") from exc
            self._roots = roots
        return self._roots

    async def _load_public(self, source: str) -> tuple[SignerKey, int]:
        data = await self._read(source)
        key, certs = parse_public_key(data)
        if self.sti_ca_roots:
            validate_chain(certs, self._trusted_roots())
        tn_list = None
        if certs:
            try:
                tn_list = tn_auth_list_of(certs[0])
            except ValueError as exc:
                if self.check_tn_auth_list:
                    raise StirError(f"TNAuthList: cannot read the extension: {exc}") from exc
        expires = self._clock() + self._ttl_ns
        if certs and self.sti_ca_roots:  # a validated chain must be validated again once a certificate expires
            left_s = min(not_after(c) for c in certs).timestamp() - time.time()
            expires = min(expires, self._clock() + max(0, int(left_s * 1e9)))
        return SignerKey(source, key, certs, tn_list), expires

    async def _load_private(self, source: str) -> tuple[ec.EllipticCurvePrivateKey, int]:
        data = await self._read(source)
        return parse_private_key(data), self._clock() + self._ttl_ns


def _go_errno_text(exc: OSError) -> str:
    """Go's wording of an errno ("no such file or directory"), as CGRateS's error strings carry it."""
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]


__all__ = [
    "TN_AUTH_LIST_OID",
    "KeyStore",
    "SignerKey",
    "StirError",
    "TNAuthEntry",
    "decode_tn_auth_list",
    "encode_tn_auth_list",
    "normalize_tn",
    "parse_private_key",
    "parse_public_key",
    "spc_for_tn",
    "tn_auth_list_of",
    "tn_authorized",
    "validate_chain",
]
