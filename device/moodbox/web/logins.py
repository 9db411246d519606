"""Password guessing, slowed per client: one attempt at a time from an address, a second's pause
after each wrong one, and a lock-out after too many. Runs on the server's event loop: a waiting
guesser holds no thread and no lock that anyone else needs."""
from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field

WRONG_DELAY_S = 1.0
MAX_WRONG = 5  # wrong passwords from one address within WINDOW_S ...
WINDOW_S = 300.0
LOCKOUT_S = 60.0  # ... then it waits this long
MAX_CLIENTS = 1000  # addresses remembered


@dataclass
class _Client:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    wrong: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0


class TooManyAttempts(Exception):
    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"too many wrong passwords from this address; try again in {retry_after_s:.0f} s")
        self.retry_after_s = retry_after_s


class LoginLimiter:
    def __init__(self) -> None:
        self._clients: dict[str, _Client] = {}

    async def attempt(self, address: str, correct: bool) -> bool:
        """Whether the password was right; a wrong one costs WRONG_DELAY_S. Raises TooManyAttempts."""
        client = self._client(address)
        async with client.lock:  # one attempt at a time per address; other addresses never wait
            now = time.monotonic()
            if client.locked_until > now:
                raise TooManyAttempts(client.locked_until - now)
            if correct:
                client.wrong.clear()
                return True
            while client.wrong and now - client.wrong[0] > WINDOW_S:
                client.wrong.popleft()
            client.wrong.append(now)
            if len(client.wrong) >= MAX_WRONG:
                client.wrong.clear()
                client.locked_until = now + LOCKOUT_S
            await asyncio.sleep(WRONG_DELAY_S)
            return False

    def _client(self, address: str) -> _Client:
        client = self._clients.get(address)
        if client is None:
            if len(self._clients) >= MAX_CLIENTS:
                now = time.monotonic()
                for key in [k for k, c in self._clients.items() if not c.lock.locked() and c.locked_until < now]:
                    del self._clients[key]
            client = self._clients[address] = _Client()
        return client
