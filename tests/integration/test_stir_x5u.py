"""x5u over HTTP: a real loopback server serves the signer's certificate; allow-list, limits, cache, redirects."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from aiohttp import web

from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.stir.keys import KeyStore
from pycgrates.engine.stir.service import stir_authenticate, stir_identity
from tests.conftest import shared_data

PAYLOAD = {"attest": "A", "dest": {"tn": ["1002"]}, "iat": 1587038802, "orig": {"tn": "1001"}, "origid": "123456"}


@pytest.fixture
def stir_dir() -> Path:
    return shared_data("stir")


@pytest.fixture
async def cert_server(stir_dir: Path):
    """An HTTP server on loopback serving the reference certificate; ``hits`` counts requests per path."""
    hits: Counter[str] = Counter()
    cert = (stir_dir / "stir_cert.pem").read_bytes()

    @web.middleware
    async def count(request: web.Request, handler):
        hits[request.path] += 1
        return await handler(request)

    async def serve_cert(_request: web.Request) -> web.Response:
        return web.Response(body=cert, content_type="application/x-pem-file")

    async def big(_request: web.Request) -> web.Response:
        return web.Response(body=cert + b"#" * 100_000)

    async def big_chunked(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for _ in range(100):
            await resp.write(b"#" * 4096)
        await resp.write_eof()
        return resp

    release = asyncio.Event()

    async def slow(_request: web.Request) -> web.Response:
        await asyncio.wait_for(release.wait(), 5)
        return web.Response(body=cert)

    async def redirect(_request: web.Request) -> web.Response:
        raise web.HTTPFound("/certs/stir_cert.pem")

    app = web.Application(middlewares=[count])
    app.router.add_get("/certs/stir_cert.pem", serve_cert)
    app.router.add_get("/certs/big.pem", big)
    app.router.add_get("/certs/big_chunked.pem", big_chunked)
    app.router.add_get("/certs/slow.pem", slow)
    app.router.add_get("/certs/moved.pem", redirect)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", hits
    finally:
        release.set()
        await runner.cleanup()


async def _identity(stir_dir: Path, x5u: str) -> str:
    async with KeyStore() as signer:
        return await stir_identity(PAYLOAD, x5u, str(stir_dir / "stir_privatekey.pem"), signer)


async def _auth(identity: str, keys: KeyStore) -> None:
    await stir_authenticate(identity, "1001", "", "1002", "", ["*any"], -1, keys)


async def _auth_error(identity: str, keys: KeyStore) -> str:
    with pytest.raises(RPCError) as info:
        await _auth(identity, keys)
    return info.value.message


async def test_x5u_fetched_once_for_many_verifications(cert_server, stir_dir):
    base, hits = cert_server
    identity = await _identity(stir_dir, f"{base}/certs/stir_cert.pem")
    async with KeyStore(x5u_allow=[f"{base}/certs/"]) as keys:
        await _auth(identity, keys)
        await _auth(identity, keys)
        assert hits["/certs/stir_cert.pem"] == 1
        keys.clear()
        # concurrent verifications of an uncached x5u share one fetch
        await asyncio.gather(*(_auth(identity, keys) for _ in range(5)))
        assert hits["/certs/stir_cert.pem"] == 2


async def test_x5u_outside_the_allow_list_is_refused_without_contact(stir_dir):
    contacts: list[tuple[str, int]] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        contacts.append(writer.get_extra_info("peername"))
        writer.close()

    listener = await asyncio.start_server(record, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        refused = {
            f"http://127.0.0.1:{port}/certs/stir_cert.pem": [f"http://127.0.0.1:{port + 1}/certs/"],  # other port
            f"http://localhost:{port}/certs/stir_cert.pem": [f"http://127.0.0.1:{port}/certs/"],  # other host
            f"https://127.0.0.1:{port}/certs/stir_cert.pem": [f"http://127.0.0.1:{port}/certs/"],  # other scheme
            f"http://127.0.0.1:{port}/other/stir_cert.pem": [f"http://127.0.0.1:{port}/certs/"],  # other path
            f"http://127.0.0.1:{port}/certs/../admin": [f"http://127.0.0.1:{port}/certs/"],  # dot segments
            f"http://127.0.0.1:{port}@evil.example/certs/x": [f"http://127.0.0.1:{port}/"],  # user information
        }
        for x5u, allow in refused.items():
            identity = await _identity(stir_dir, x5u)
            async with KeyStore(x5u_allow=allow) as keys:
                msg = await _auth_error(identity, keys)
                assert msg.startswith(f"*stir_authenticate: x5u {x5u}"), msg
                assert keys.fetches == 0
        # the default allows local files only
        async with KeyStore() as keys:
            url = f"http://127.0.0.1:{port}/certs/stir_cert.pem"
            msg = await _auth_error(await _identity(stir_dir, url), keys)
            assert (
                msg == f"*stir_authenticate: x5u {url} is not allowed (add its URL prefix to sessions.stir x5u_allow)"
            )
        await asyncio.sleep(0.05)
        assert contacts == []
    finally:
        listener.close()
        await listener.wait_closed()


async def test_size_limit(cert_server, stir_dir):
    base, hits = cert_server
    async with KeyStore(x5u_allow=[f"{base}/certs/"], x5u_max_bytes=4096) as keys:
        for name in ("big.pem", "big_chunked.pem"):
            msg = await _auth_error(await _identity(stir_dir, f"{base}/certs/{name}"), keys)
            assert msg == (
                f"*stir_authenticate: x5u {base}/certs/{name} is larger than sessions.stir x5u_max_bytes (4096 bytes)"
            )
        assert hits["/certs/big.pem"] == hits["/certs/big_chunked.pem"] == 1


async def test_time_limit(cert_server, stir_dir):
    base, _ = cert_server
    async with KeyStore(x5u_allow=[f"{base}/certs/"], x5u_timeout_s=0.2) as keys:
        msg = await _auth_error(await _identity(stir_dir, f"{base}/certs/slow.pem"), keys)
        assert (
            msg == f"*stir_authenticate: x5u {base}/certs/slow.pem: no answer within 0.2s (sessions.stir x5u_timeout)"
        )


async def test_redirects_and_missing_files_are_errors(cert_server, stir_dir):
    base, hits = cert_server
    async with KeyStore(x5u_allow=[f"{base}/certs/"]) as keys:
        msg = await _auth_error(await _identity(stir_dir, f"{base}/certs/moved.pem"), keys)
        assert msg == "*stir_authenticate: http status error: 302"
        msg = await _auth_error(await _identity(stir_dir, f"{base}/certs/none.pem"), keys)
        assert msg == "*stir_authenticate: http status error: 404"
        # a failure is remembered for a while: no second request
        await _auth_error(await _identity(stir_dir, f"{base}/certs/none.pem"), keys)
        assert hits["/certs/stir_cert.pem"] == 0 and hits["/certs/none.pem"] == 1


async def test_path_map_sends_an_x5u_to_a_local_copy(cert_server, stir_dir):
    base, hits = cert_server
    identity = await _identity(stir_dir, "https://cr.example.com/certs/stir_cert.pem")
    async with KeyStore(x5u_path_map={"https://cr.example.com/certs/": f"{stir_dir}/"}) as keys:
        await _auth(identity, keys)
    async with KeyStore(x5u_path_map={"https://cr.example.com/": f"{base}/"}, x5u_allow=[f"{base}/certs/"]) as keys:
        await _auth(identity, keys)
    assert hits["/certs/stir_cert.pem"] == 1


def _loads_running() -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("stir keys:")]


async def test_a_shared_fetch_outlives_its_first_caller_and_close_stops_it(cert_server, stir_dir, caplog):
    base, hits = cert_server
    identity = await _identity(stir_dir, f"{base}/certs/slow.pem")
    keys = KeyStore(x5u_allow=[f"{base}/certs/"], x5u_timeout_s=5)
    caller = asyncio.get_running_loop().create_task(_auth(identity, keys))
    for _ in range(100):
        if hits["/certs/slow.pem"]:
            break
        await asyncio.sleep(0.02)
    caller.cancel()
    await asyncio.gather(caller, return_exceptions=True)
    assert len(_loads_running()) == 1  # the fetch is shared: one caller giving up does not cancel it
    await keys.close()
    assert _loads_running() == []  # close cancelled it and waited for it
    # refusals are answers, not task failures: nothing is logged as a failed background task
    async with KeyStore(x5u_allow=[f"{base}/certs/"]) as keys:
        await _auth_error(await _identity(stir_dir, f"{base}/certs/none.pem"), keys)
    assert "background task" not in caplog.text
