"""`caplet.Router` against two real brokers: `get` sticks to one broker
across reconnects and finds its cached worker there; with that broker
stopped, it fails over to the other. The ranking is the Rust client's."""

from __future__ import annotations

import asyncio
import os
from typing import Any, Iterator, List, Tuple

import pytest

import caplet
from caplet.route import broker_key, weight

from conftest import Server, make_server

COUNTER = "let n = 0; export default { run() { return ++n; } };"


def test_weight_is_the_rust_clients() -> None:
    # client/src/route.rs, WEIGHT_ALICE_JOB_1.
    assert f"{weight('alice', 'job-1', 'tcp://10.0.0.1:7420'):016x}" == "b9d887dc94a2577c"
    assert broker_key("/run/caplet.sock") == "unix:/run/caplet.sock"


@pytest.fixture
def two_servers() -> Iterator[Tuple[Server, Server]]:
    first = make_server([])
    second = make_server([])
    try:
        yield next(first), next(second)
    finally:
        for gen in (first, second):
            gen.close()


def test_get_sticks_to_one_broker_and_fails_over(two_servers: Tuple[Server, Server]) -> None:
    servers = two_servers
    sockets = [s.socket for s in servers]
    principal = f"unix:{os.getuid()}"

    async def main() -> List[Any]:
        out: List[Any] = []
        async with caplet.Router(sockets, principal) as router:
            routed = await router.get("job-1", COUNTER)
            first = routed.broker
            assert first == router.ranking("job-1")[0]
            out.append((await routed.worker.invoke("run")).output)

        async with caplet.Router(sockets, principal) as router:
            routed = await router.get("job-1", COUNTER)
            assert routed.broker == first
            # The worker the first router's get cached.
            out.append((await routed.worker.invoke("run")).output)

            servers[first].stop()
            routed = await router.get("job-1", COUNTER)
            assert routed.broker == 1 - first
            # A fresh worker on the other broker.
            out.append((await routed.worker.invoke("run")).output)
        return out

    assert asyncio.run(main()) == [1, 2, 1]
