"""Kamailio for tests: the real kamailio (Debian) on loopback ports running ``kamailio-evapi.cfg`` (or another
script taking its ports as ``-A`` defines, as tutorials/kamailio/kamailio.cfg does), sipp scenarios for the SIP
side, and :class:`EvapiPeer`, a bare evapi listener that sends whatever a test wants (malformed input) and reads
back what its clients sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "kamailio-evapi.cfg"
MODULES = Path("/usr/lib/x86_64-linux-gnu/kamailio/modules")


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def udp_port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


def kamailio_available() -> bool:
    return shutil.which("kamailio") is not None and (MODULES / "evapi.so").exists()


class Kamailio:
    """One kamailio process with the test config, or with ``script`` given its ports as defines (SIP_PORT, CALLEE,
    EVAPI_ADDR, EVAPI_NETSTRING, RPC_FIFO); ``stop()`` then ``start()`` again is a restart on the same ports."""

    def __init__(self, workdir: Path, *, netstring_format: bool = True, script: Path | None = None) -> None:
        self.workdir = workdir
        self.netstring_format = netstring_format
        self.script = script
        self.sip_port = free_port(socket.SOCK_DGRAM)
        self.uas_port = free_port(socket.SOCK_DGRAM)
        self.evapi_port = free_port()
        self.log_path = workdir / "kamailio.log"
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def evapi_address(self) -> str:
        return f"127.0.0.1:{self.evapi_port}"

    def config_text(self) -> str:
        text = CONFIG.read_text()
        for name, value in {"SIP_PORT": self.sip_port, "UAS_PORT": self.uas_port, "RUNDIR": self.workdir,
                            "EVAPI_ADDR": self.evapi_address, "NETSTRING": int(self.netstring_format),
                            "MPATH": f"{MODULES}/"}.items():
            text = text.replace(f"@{name}@", str(value))
        return text

    def script_args(self) -> list[str]:
        """How kamailio is told its script and ports."""
        if self.script is None:
            cfg = self.workdir / "kamailio.cfg"
            cfg.write_text(self.config_text())
            return ["-f", str(cfg)]
        defines = {"SIP_PORT": self.sip_port, "CALLEE": f'"sip:127.0.0.1:{self.uas_port}"',
                   "EVAPI_ADDR": f'"{self.evapi_address}"', "EVAPI_NETSTRING": int(self.netstring_format),
                   "RPC_FIFO": f'"{self.workdir / "kamailio_rpc.fifo"}"'}
        return ["-f", str(self.script), *(a for k, v in defines.items() for a in ("-A", f"{k}={v}"))]

    async def start(self, timeout: float = 15.0) -> None:
        args = self.script_args()
        log = self.log_path.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            shutil.which("kamailio") or "kamailio", *args, "-DD", "-E", "-m", "32", "-M", "4",
            "-Y", str(self.workdir), "-w", str(self.workdir),
            stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        log.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if self.proc.returncode is not None:
                break
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.evapi_port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            writer.close()
            return
        await self.stop()
        raise RuntimeError(f"kamailio did not come up; its log:\n{self.log()[-3000:]}")

    async def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()  # the main process takes its children down
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def wait_log(self, text: str, timeout: float = 5.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while text not in self.log():
            if loop.time() > deadline:
                raise TimeoutError(f"kamailio did not log {text!r}; its log:\n{self.log()[-3000:]}")
            await asyncio.sleep(0.05)


class Sipp:
    """A sipp run of one of this folder's scenarios (one call)."""

    def __init__(self, workdir: Path, scenario: str | Path, *, port: int, target: str | None = None,
                 service: str = "1002", extra: Sequence[str] = ()) -> None:
        self.workdir = workdir
        self.scenario = HERE / scenario       # a scenario of this folder, or any path
        self.port = port
        self.target = target
        self.service = service
        self.extra = list(extra)
        self.proc: asyncio.subprocess.Process | None = None
        self.errors = workdir / f"{Path(scenario).stem}-{port}-errors.log"

    async def start(self) -> None:
        args = ["-sf", str(self.scenario), "-i", "127.0.0.1", "-p", str(self.port), "-m", "1", "-nostdin",
                "-timeout", "30s", "-timeout_error", "-trace_err", "-error_file", str(self.errors)]
        args += self.extra
        if self.target:
            args += ["-s", self.service, self.target]
        self.proc = await asyncio.create_subprocess_exec(
            shutil.which("sipp") or "sipp", *args, cwd=self.workdir, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        if self.target is None:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 5
            while loop.time() < deadline:  # sipp listens once its port is taken
                if udp_port_taken(self.port):
                    break
                await asyncio.sleep(0.05)

    async def wait(self, timeout: float = 30.0) -> int:
        """sipp's exit status (0: the scenario ran to its end)."""
        assert self.proc is not None
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            raise

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    def failure(self) -> str:
        return self.errors.read_text(errors="replace")[-2000:] if self.errors.exists() else "(no error log)"


class EvapiPeer:
    """A bare evapi listener: records what clients send (raw bytes) and sends them whatever a test wants."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.writers: list[asyncio.StreamWriter] = []
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for w in self.writers:
            w.close()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        self.writers.clear()

    async def send(self, data: bytes) -> None:
        for w in list(self.writers):
            if not w.is_closing():
                w.write(data)
                with contextlib.suppress(ConnectionError):
                    await w.drain()

    def drop_clients(self) -> None:
        """Close every client connection (a network failure); the clients dial again."""
        for w in self.writers:
            w.transport.abort()

    def messages(self, netstring_format: bool = True) -> list[dict]:
        """Every JSON message the clients sent, unframed here from the raw bytes (netstrings or bare documents)."""
        text = bytes(self.received).decode()
        out, i = [], 0
        decoder = json.JSONDecoder()
        while True:
            while i < len(text) and text[i].isspace():
                i += 1
            if i >= len(text):
                return out
            if netstring_format:
                colon = text.index(":", i)
                length = int(text[i:colon])
                payload = text[colon + 1:colon + 1 + length]
                assert text[colon + 1 + length] == ",", f"netstring at {i} does not end with ','"
                out.append(json.loads(payload))
                i = colon + 2 + length
            else:
                obj, i = decoder.raw_decode(text, i)
                out.append(obj)

    async def wait_clients(self, count: int = 1, timeout: float = 5.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len([w for w in self.writers if not w.is_closing()]) < count:
            if loop.time() > deadline:
                raise TimeoutError(f"{count} evapi client(s) did not connect")
            await asyncio.sleep(0.02)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.writers.append(writer)
        try:
            while data := await reader.read(65536):
                self.received += data
        except ConnectionError:
            pass
        finally:
            writer.close()
            if writer in self.writers:
                self.writers.remove(writer)
