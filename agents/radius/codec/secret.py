"""What the shared secret does: it hides attribute values (User-Password, RFC 2865 §5.2; salt encryption of
Tunnel-Password and MPPE keys, RFC 2868 §3.5, RFC 2548 §2.4.2) and signs packets (Request and Response
Authenticators, Message-Authenticator, RFC 2869 §5.14, RFC 3579 §3.2).

The checks work on the raw bytes, so a server can drop a forged packet before decoding it (``check_request``).
"""

from __future__ import annotations

import hashlib
import hmac
import os

from .codes import (
    ACCESS_REQUEST,
    CODE_NAMES,
    MAX_PACKET,
    MESSAGE_AUTHENTICATOR,
    SIGNED_REQUEST_CODES,
    STATUS_SERVER,
    ZERO_VECTOR,
    AuthenticatorError,
    DecodeError,
    EncodeError,
)

# ---------------------------------------------------------------------------------------------------- hiding


def md5(*parts: bytes) -> bytes:
    h = hashlib.md5()
    for p in parts:
        h.update(p)
    return h.digest()


def _xor16(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(16, "big")


def _chain_encrypt(plain: bytes, secret: bytes, vector: bytes) -> bytes:
    """16-byte blocks XORed with MD5(secret + the previous cipher block), the first with ``vector`` (RFC 2865 §5.2,
    RFC 2868 §3.5); ``plain`` is a multiple of 16 bytes."""
    out = bytearray()
    prev = vector
    for i in range(0, len(plain), 16):
        prev = _xor16(plain[i:i + 16], md5(secret, prev))
        out += prev
    return bytes(out)


def _chain_decrypt(cipher: bytes, secret: bytes, vector: bytes) -> bytes:
    """The inverse of ``_chain_encrypt``."""
    out = bytearray()
    prev = vector
    for i in range(0, len(cipher), 16):
        block = cipher[i:i + 16]
        out += _xor16(block, md5(secret, prev))
        prev = block
    return bytes(out)


def hide_password(password: bytes, secret: bytes, authenticator: bytes) -> bytes:
    """User-Password hiding (RFC 2865 §5.2): NUL-pad to 16n (max 128) and chain MD5(secret + previous)."""
    if len(password) > 128:
        raise EncodeError("User-Password is longer than 128 bytes (RFC 2865 §5.2)")
    padded = password + bytes(-len(password) % 16 or (16 if not password else 0))
    return _chain_encrypt(padded, secret, authenticator)


def unhide_password(hidden: bytes, secret: bytes, authenticator: bytes) -> bytes:
    """The inverse of ``hide_password``; trailing NULs are removed. DecodeError when the length is not 16n."""
    if not hidden or len(hidden) % 16 or len(hidden) > 128:
        raise DecodeError("User-Password length is not a multiple of 16 up to 128")
    return _chain_decrypt(hidden, secret, authenticator).rstrip(b"\x00")


def salt_encrypt(value: bytes, secret: bytes, authenticator: bytes, salt: bytes | None = None) -> bytes:
    """Salt encryption of Tunnel-Password / MS-MPPE keys (RFC 2868 §3.5, RFC 2548 §2.4.2): salt + ciphertext."""
    if len(value) > 239:
        raise EncodeError("a salt-encrypted value is longer than 239 bytes")
    if salt is None:
        salt = os.urandom(2)
    salt = bytes([salt[0] | 0x80, salt[1]])
    plain = bytes([len(value)]) + value
    plain += bytes(-len(plain) % 16)
    return salt + _chain_encrypt(plain, secret, authenticator + salt)


def salt_decrypt(data: bytes, secret: bytes, authenticator: bytes) -> bytes:
    """The inverse of ``salt_encrypt``; DecodeError when the framing is wrong."""
    if len(data) < 18 or (len(data) - 2) % 16:
        raise DecodeError("salt-encrypted value has a bad length")
    salt, cipher = data[:2], data[2:]
    out = _chain_decrypt(cipher, secret, authenticator + salt)
    n = out[0]
    if n > len(out) - 1:
        raise DecodeError("salt-encrypted value: inner length exceeds the data")
    return out[1:1 + n]


# ---------------------------------------------------------------------------------------------------- authenticators

def _walk_attributes(data: bytes, length: int) -> tuple[int, int]:
    """Check the attribute framing of data[20:length]; return (count of Message-Authenticator, its offset)."""
    i = 20
    ma_count, ma_offset = 0, -1
    while i < length:
        if length - i < 2:
            raise DecodeError(f"attribute at offset {i} is truncated")
        code, alen = data[i], data[i + 1]
        if alen < 2 or i + alen > length:
            raise DecodeError(f"attribute {code} at offset {i} has a bad length {alen}")
        if code == MESSAGE_AUTHENTICATOR:
            if alen != 18:
                raise DecodeError("Message-Authenticator is not 16 bytes")
            ma_count += 1
            ma_offset = i
        i += alen
    return ma_count, ma_offset


def packet_length(data: bytes) -> int:
    """The Length field after checking it against the datagram (extra bytes past Length are padding)."""
    if len(data) < 20:
        raise DecodeError(f"packet of {len(data)} bytes is shorter than the 20-byte header")
    length = (data[2] << 8) | data[3]
    if length < 20 or length > MAX_PACKET:
        raise DecodeError(f"Length field {length} is outside 20..4096")
    if length > len(data):
        raise DecodeError(f"Length field {length} is larger than the {len(data)} bytes received")
    return length


def message_authenticator(data: bytes, length: int, offset: int, secret: bytes, vector: bytes) -> bytes:
    buf = bytearray(data[:length])
    buf[4:20] = vector
    buf[offset + 2:offset + 18] = ZERO_VECTOR
    return hmac.new(secret, bytes(buf), hashlib.md5).digest()


def check_request(data: bytes, secret: bytes, *, require_message_authenticator: bool = False) -> int:
    """Validate a received request on raw bytes; return its code.

    Raises DecodeError for broken framing and AuthenticatorError when the Request Authenticator (signed request
    codes) or the Message-Authenticator does not verify with ``secret``. Status-Server without a
    Message-Authenticator is refused (RFC 5997), as is any Access-Request without one when
    ``require_message_authenticator`` is set.
    """
    length = packet_length(data)
    code = data[0]
    ma_count, ma_offset = _walk_attributes(data, length)
    if ma_count > 1:
        raise DecodeError("more than one Message-Authenticator")
    if code in SIGNED_REQUEST_CODES:
        expected = md5(data[:4], ZERO_VECTOR, data[20:length], secret)
        if not hmac.compare_digest(expected, data[4:20]):
            raise AuthenticatorError(f"{CODE_NAMES[code]}: Request Authenticator does not verify (wrong secret?)")
        vector = ZERO_VECTOR
    else:
        vector = data[4:20]
    if ma_count:
        expected = message_authenticator(data, length, ma_offset, secret, vector)
        if not hmac.compare_digest(expected, data[ma_offset + 2:ma_offset + 18]):
            raise AuthenticatorError(f"{CODE_NAMES.get(code, code)}: Message-Authenticator does not verify "
                                     "(wrong secret?)")
    elif code == STATUS_SERVER or (require_message_authenticator and code == ACCESS_REQUEST):
        raise AuthenticatorError(f"{CODE_NAMES[code]} without Message-Authenticator")
    return code


def check_response(data: bytes, secret: bytes, request_authenticator: bytes) -> int:
    """Validate a received reply against the request it answers; return its code (errors as ``check_request``)."""
    length = packet_length(data)
    ma_count, ma_offset = _walk_attributes(data, length)
    if ma_count > 1:
        raise DecodeError("more than one Message-Authenticator")
    expected = md5(data[:4], request_authenticator, data[20:length], secret)
    if not hmac.compare_digest(expected, data[4:20]):
        raise AuthenticatorError("Response Authenticator does not verify (wrong secret?)")
    if ma_count:
        mac = message_authenticator(data, length, ma_offset, secret, request_authenticator)
        if not hmac.compare_digest(mac, data[ma_offset + 2:ma_offset + 18]):
            raise AuthenticatorError("Message-Authenticator of the reply does not verify")
    return data[0]
