"""Password checks of an Access-Request: PAP, CHAP (RFC 1994), MS-CHAP (RFC 2433), MS-CHAPv2 (RFC 2759) with the
MS-CHAP2-Success authenticator response, and the MPPE keys of RFC 3079 / RFC 2548.

Pure functions over bytes: the caller picks the attributes out of the packet. MD4 is implemented here because
OpenSSL 3 no longer offers it to hashlib by default.
"""

from __future__ import annotations

import hashlib
import hmac
import struct

__all__ = [
    "check_chap",
    "check_mschap",
    "check_mschapv2",
    "check_pap",
    "md4",
    "mppe_keys",
    "mschapv2_authenticator_response",
    "mschapv2_nt_response",
    "nt_password_hash",
]


# ====================================================================== MD4 (RFC 1320)

def _rotl(x: int, n: int) -> int:
    x &= 0xFFFFFFFF
    return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF


def _md4_pure(data: bytes) -> bytes:
    msg = data + b"\x80" + bytes(-(len(data) + 9) % 64) + struct.pack("<Q", (len(data) * 8) & (2**64 - 1))
    a, b, c, d = 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476
    for off in range(0, len(msg), 64):
        x = struct.unpack("<16I", msg[off:off + 64])
        aa, bb, cc, dd = a, b, c, d
        for i in (0, 4, 8, 12):  # round 1: F(x,y,z) = xy | ~x z
            a = _rotl(a + ((b & c) | (~b & d)) + x[i], 3)
            d = _rotl(d + ((a & b) | (~a & c)) + x[i + 1], 7)
            c = _rotl(c + ((d & a) | (~d & b)) + x[i + 2], 11)
            b = _rotl(b + ((c & d) | (~c & a)) + x[i + 3], 19)
        for i in (0, 1, 2, 3):  # round 2: G(x,y,z) = xy | xz | yz, constant 0x5A827999
            a = _rotl(a + ((b & c) | (b & d) | (c & d)) + x[i] + 0x5A827999, 3)
            d = _rotl(d + ((a & b) | (a & c) | (b & c)) + x[i + 4] + 0x5A827999, 5)
            c = _rotl(c + ((d & a) | (d & b) | (a & b)) + x[i + 8] + 0x5A827999, 9)
            b = _rotl(b + ((c & d) | (c & a) | (d & a)) + x[i + 12] + 0x5A827999, 13)
        for i in (0, 2, 1, 3):  # round 3: H(x,y,z) = x ^ y ^ z, constant 0x6ED9EBA1
            a = _rotl(a + (b ^ c ^ d) + x[i] + 0x6ED9EBA1, 3)
            d = _rotl(d + (a ^ b ^ c) + x[i + 8] + 0x6ED9EBA1, 9)
            c = _rotl(c + (d ^ a ^ b) + x[i + 4] + 0x6ED9EBA1, 11)
            b = _rotl(b + (c ^ d ^ a) + x[i + 12] + 0x6ED9EBA1, 15)
        a, b, c, d = (a + aa) & 0xFFFFFFFF, (b + bb) & 0xFFFFFFFF, (c + cc) & 0xFFFFFFFF, (d + dd) & 0xFFFFFFFF
    return struct.pack("<4I", a, b, c, d)


def _md4_hashlib(data: bytes) -> bytes:
    return hashlib.new("md4", data).digest()


try:
    hashlib.new("md4", b"")
    md4 = _md4_hashlib
except ValueError:
    md4 = _md4_pure
md4.__doc__ = "MD4 digest (RFC 1320) of ``data``."


# ====================================================================== DES with 56-bit keys (MS-CHAP)

def _des_key(key7: bytes) -> bytes:
    """Spread 56 key bits over 8 bytes (the low bit of each is parity, ignored by DES)."""
    bits = int.from_bytes(key7, "big")
    return bytes((((bits >> (49 - 7 * i)) & 0x7F) << 1) for i in range(8))


def _des_encrypt(key7: bytes, block: bytes) -> bytes:
    try:
        from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
    except ImportError:  # cryptography < 43
        from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    # Triple DES with three equal keys is single DES.
    enc = Cipher(TripleDES(_des_key(key7) * 3), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


def _challenge_response(challenge8: bytes, password_hash: bytes) -> bytes:
    """RFC 2759 §8.5 ChallengeResponse: three DES encryptions of the challenge under the padded hash."""
    z = password_hash + bytes(21 - len(password_hash))
    return b"".join(_des_encrypt(z[k:k + 7], challenge8) for k in (0, 7, 14))


# ====================================================================== PAP, CHAP

def check_pap(user_password: bytes, password: str | bytes) -> bool:
    """PAP: the un-hidden User-Password equals the expected password (constant time)."""
    expected = password.encode("utf-8") if isinstance(password, str) else password
    return hmac.compare_digest(user_password, expected)


def check_chap(chap_password: bytes, challenge: bytes, password: str | bytes) -> bool:
    """CHAP (RFC 1994, RFC 2865 §5.3): CHAP-Password is Ident + MD5(Ident + password + challenge).

    ``challenge`` is CHAP-Challenge when present, otherwise the Request Authenticator.
    """
    if len(chap_password) != 17:
        return False
    secret = password.encode("utf-8") if isinstance(password, str) else password
    expected = hashlib.md5(chap_password[:1] + secret + challenge).digest()
    return hmac.compare_digest(expected, chap_password[1:])


# ====================================================================== MS-CHAP v1 and v2

def nt_password_hash(password: str) -> bytes:
    """MD4 of the UTF-16LE password (RFC 2759 §8.3)."""
    return md4(password.encode("utf-16-le"))


def _challenge_hash(peer_challenge: bytes, authenticator_challenge: bytes, user_name: bytes) -> bytes:
    return hashlib.sha1(peer_challenge + authenticator_challenge + user_name).digest()[:8]


def _user_bytes(user_name: str | bytes) -> bytes:
    return user_name.encode("utf-8") if isinstance(user_name, str) else user_name


def mschapv2_nt_response(authenticator_challenge: bytes, peer_challenge: bytes, user_name: str | bytes,
                         password: str) -> bytes:
    """The 24-byte NT-Response a peer computes (RFC 2759 §8.1 GenerateNTResponse)."""
    challenge = _challenge_hash(peer_challenge, authenticator_challenge, _user_bytes(user_name))
    return _challenge_response(challenge, nt_password_hash(password))


_MAGIC1 = b"Magic server to client signing constant"
_MAGIC2 = b"Pad to make it do more than one iteration"


def mschapv2_authenticator_response(password: str, nt_response: bytes, peer_challenge: bytes,
                                    authenticator_challenge: bytes, user_name: str | bytes) -> bytes:
    """``S=`` + 40 hex digits (RFC 2759 §8.7 GenerateAuthenticatorResponse), as bytes."""
    hash_hash = md4(nt_password_hash(password))
    digest = hashlib.sha1(hash_hash + nt_response + _MAGIC1).digest()
    challenge = _challenge_hash(peer_challenge, authenticator_challenge, _user_bytes(user_name))
    digest = hashlib.sha1(digest + challenge + _MAGIC2).digest()
    return b"S=" + digest.hex().upper().encode()


def check_mschapv2(user_name: str | bytes, password: str, authenticator_challenge: bytes,
                   response: bytes) -> bytes | None:
    """Verify an MS-CHAP2-Response (RFC 2548 §2.3.2) against MS-CHAP-Challenge.

    ``response`` is Ident(1) Flags(1) Peer-Challenge(16) Reserved(8) NT-Response(24). Returns the value for
    MS-CHAP2-Success (Ident + ``S=...``) when the password matches, else None. ``user_name`` is the name the
    peer hashed: without a ``DOMAIN\\`` prefix for Windows peers (strip it before calling if needed).
    """
    if len(response) != 50 or len(authenticator_challenge) != 16:
        return None
    ident, peer_challenge, nt_response = response[0:1], response[2:18], response[26:50]
    expected = mschapv2_nt_response(authenticator_challenge, peer_challenge, user_name, password)
    if not hmac.compare_digest(expected, nt_response):
        return None
    return ident + mschapv2_authenticator_response(password, nt_response, peer_challenge,
                                                   authenticator_challenge, user_name)


def check_mschap(password: str, challenge: bytes, response: bytes) -> bool:
    """Verify an MS-CHAP (v1) MS-CHAP-Response (RFC 2548 §2.1.3) against an 8-byte MS-CHAP-Challenge.

    ``response`` is Ident(1) Flags(1) LM-Response(24) NT-Response(24); only the NT-Response is accepted (the LM
    response is too weak to honour).
    """
    if len(response) != 50 or len(challenge) != 8 or not response[1] & 1:
        return False
    expected = _challenge_response(challenge, nt_password_hash(password))
    return hmac.compare_digest(expected, response[26:50])


# ====================================================================== MPPE keys (RFC 3079 §3)

_SHS_PAD1 = bytes(40)
_SHS_PAD2 = b"\xf2" * 40
_MPPE_MAGIC1 = b"This is the MPPE Master Key"
_MPPE_MAGIC2 = b"On the client side, this is the send key; on the server side, it is the receive key."
_MPPE_MAGIC3 = b"On the client side, this is the receive key; on the server side, it is the send key."


def mppe_keys(password: str, nt_response: bytes, key_length: int = 16) -> tuple[bytes, bytes]:
    """The server's (MS-MPPE-Send-Key, MS-MPPE-Recv-Key) for an MS-CHAPv2 session (RFC 3079 §3.3-3.4)."""
    hash_hash = md4(nt_password_hash(password))
    master = hashlib.sha1(hash_hash + nt_response + _MPPE_MAGIC1).digest()[:16]

    def start_key(magic: bytes) -> bytes:
        return hashlib.sha1(master + _SHS_PAD1 + magic + _SHS_PAD2).digest()[:key_length]

    return start_key(_MPPE_MAGIC3), start_key(_MPPE_MAGIC2)
