"""TLS contexts from the ``tls`` config section (listeners and outgoing connections)."""

from __future__ import annotations

import ssl


def make_ssl_context(tls: dict, server: bool) -> ssl.SSLContext | None:
    cert = tls.get("server_certificate" if server else "client_certificate") or ""
    key = tls.get("server_key" if server else "client_key") or ""
    ca = tls.get("ca_certificate") or ""
    if server and not (cert and key):
        return None
    purpose = ssl.Purpose.CLIENT_AUTH if server else ssl.Purpose.SERVER_AUTH
    ctx = ssl.create_default_context(purpose, cafile=ca or None)
    if cert and key:
        ctx.load_cert_chain(cert, key)
    if server:
        # server_policy as Go's tls.ClientAuthType: 0 none … 4 require and verify
        policy = int(tls.get("server_policy", 0) or 0)
        if policy >= 3:
            ctx.verify_mode = ssl.CERT_REQUIRED
        elif policy >= 1 and ca:
            ctx.verify_mode = ssl.CERT_OPTIONAL
        else:
            ctx.verify_mode = ssl.CERT_NONE
    else:
        name = tls.get("server_name") or ""
        ctx.check_hostname = bool(name)
    return ctx
