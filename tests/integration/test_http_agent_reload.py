"""The HTTP agents of an in-process engine across a reload: the URLs mounted at start keep answering with the new
processors and payloads, a removed entry's URL answers 404, a new URL waits for the next start (said in the log)."""

from __future__ import annotations

import logging

import aiohttp

from pycgrates.engine.app import Engine
from pycgrates.engine.config import config_from_dict


def entry(agent_id: str, url: str, value: str, reply: str = "*text_plain") -> dict:
    return {"id": agent_id, "url": url, "request_payload": "*url", "reply_payload": reply, "request_processors": [
        {"id": "Echo", "flags": ["*none"], "reply_fields": [
            {"tag": "Said", "path": "*rep.said", "type": "*constant", "value": value},
            {"tag": "Heard", "path": "*rep.heard", "type": "*variable", "value": "~*req.q"}]}]}


def config(*entries: dict) -> dict:
    return {"listen": {"rpc_json": "", "http": "127.0.0.1:0", "birpc_json": ""},
            "data_db": {"opts": {"internalDBDumpPath": ""}}, "stor_db": {"opts": {"internalDBDumpPath": ""}},
            "http_agent": list(entries)}


async def test_reload_keeps_mounted_urls_and_applies_new_processors(caplog):
    eng = Engine(config_from_dict(config(entry("a", "/a", "one"), entry("b", "/b", "two"))))
    await eng.start()
    base = f"http://127.0.0.1:{eng.listener('http').port}"
    try:
        async with aiohttp.ClientSession() as client:
            async def get(path: str) -> tuple[int, str]:
                async with client.get(base + path) as resp:
                    return resp.status, await resp.text()

            assert await get("/a?q=x") == (200, "said=one\nheard=x\n")
            assert await get("/b?q=y") == (200, "said=two\nheard=y\n")
            eng.cfg = config_from_dict(config(entry("a", "/a", "uno", reply="*json"), entry("c", "/c", "tres")))
            eng.ctx.cfg = eng.cfg
            with caplog.at_level(logging.WARNING, "cgr.http_agent"):
                await eng.ctx.services["http_agent"].reload(eng.cfg)
            assert await get("/a?q=x") == (200, '{"said":"uno","heard":"x"}')
            assert (await get("/b?q=y"))[0] == 404
            assert (await get("/c?q=z"))[0] == 404
            assert any("url /c is served from the next start" in r.getMessage() for r in caplog.records)
    finally:
        await eng.stop()
