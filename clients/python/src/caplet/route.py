"""Routing `get(id)` over several brokers that share one store, as the
Rust client's `Router` does, with the same ranking: so Python and Rust
clients of one principal send an id to the same broker.

Each broker's weight for (principal, id) is the first 8 bytes (big-endian)
of SHA-256(len(principal) || principal || len(id) || id || len(key) || key),
each length a big-endian u64 and `key` the broker's address as written
(`tcp://HOST:PORT`, or `unix:PATH` for a socket path). `get` asks the
brokers from the highest weight down: one that refuses the connection, or
drops it and cannot be reached again, passes the call on to the next.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Union

from .code import WorkerCode
from .connection import Connection, Worker, connect, connect_tcp
from .errors import Disconnected

__all__ = ["Router", "Routed", "weight", "broker_key"]


def broker_key(address: str) -> str:
    """What the ranking hashes for `address`: `tcp://HOST:PORT` as it is,
    a socket path as `unix:PATH`."""
    return address if address.startswith("tcp://") else f"unix:{address}"


def weight(principal: str, id: str, broker: str) -> int:
    """The weight of `broker` (its key) for (`principal`, `id`)."""
    digest = hashlib.sha256()
    for part in (principal, id, broker):
        data = part.encode()
        digest.update(struct.pack(">Q", len(data)))
        digest.update(data)
    value: int = struct.unpack(">Q", digest.digest()[:8])[0]
    return value


@dataclass
class Routed:
    """The worker `get` found or loaded, and the index of its broker."""

    worker: Worker
    broker: int


class Router:
    """Several brokers (`tcp://HOST:PORT` with `token`, or socket paths),
    one connection to each at most, made when first needed and again after
    it drops. `principal` is the name the brokers know this client by (the
    token's name, or `unix:<uid>`)."""

    def __init__(self, brokers: Sequence[str], principal: str, *, token: Optional[str] = None) -> None:
        if not brokers:
            raise ValueError("a router needs at least one broker address")
        if token is None and any(b.startswith("tcp://") for b in brokers):
            raise ValueError("tcp:// brokers need a token")
        self.brokers: List[str] = list(brokers)
        self.principal = principal
        self._token = token
        self._connections: Dict[int, Connection] = {}

    def ranking(self, id: str) -> List[int]:
        """The brokers' indexes in the order `get(id)` tries them."""
        weights = [(weight(self.principal, id, broker_key(b)), i) for i, b in enumerate(self.brokers)]
        weights.sort(key=lambda w: (-w[0], w[1]))
        return [i for _, i in weights]

    async def _connection(self, index: int) -> Connection:
        found = self._connections.get(index)
        if found is not None:
            return found
        address = self.brokers[index]
        if address.startswith("tcp://"):
            host, _, port = address[len("tcp://"):].rpartition(":")
            assert self._token is not None
            connection = await connect_tcp(host, int(port), token=self._token)
        else:
            connection = await connect(address)
        self._connections[index] = connection
        return connection

    async def _forget(self, index: int) -> None:
        connection = self._connections.pop(index, None)
        if connection is not None:
            await connection.close()

    async def get(self, id: str, code: Union[WorkerCode, str]) -> Routed:
        """`Connection.get` on the first broker of `id`'s ranking that
        answers; any error but a broker being down is raised as it is."""
        last: Optional[Exception] = None
        for index in self.ranking(id):
            # A dropped connection (a broker restarted) is made again once
            # before the broker counts as down.
            for _ in range(2):
                try:
                    connection = await self._connection(index)
                except ConnectionError as e:
                    last = e
                    break
                try:
                    return Routed(await connection.get(id, code), index)
                except Disconnected as e:
                    await self._forget(index)
                    last = e
        assert last is not None
        raise last

    async def close(self) -> None:
        """Closes every connection (idempotent)."""
        for index in list(self._connections):
            await self._forget(index)

    async def __aenter__(self) -> "Router":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
