"""One call to Home Assistant's websocket API (what the REST API lacks: media browsing), printed as JSON.

Run with Home Assistant's own Python (it has aiohttp): python ws.py URL TOKEN '{"type": ...}'
"""
from __future__ import annotations

import asyncio
import json
import sys

import aiohttp


async def call(url: str, token: str, message: dict) -> dict:
    async with aiohttp.ClientSession() as session, session.ws_connect(f"{url}/api/websocket") as ws:
        await ws.receive_json()  # auth_required
        await ws.send_json({"type": "auth", "access_token": token})
        answer = await ws.receive_json()
        if answer.get("type") != "auth_ok":
            return {"success": False, "error": answer}
        await ws.send_json({"id": 1, **message})
        while True:
            answer = await ws.receive_json(timeout=30)
            if answer.get("id") == 1 and answer.get("type") == "result":
                return answer


def main() -> int:
    url, token, message = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    print(json.dumps(asyncio.run(call(url, token, message))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
