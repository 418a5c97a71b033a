#!/usr/bin/env python3
"""Test helper for tests/all/python.rs: one principal's view of a broker, from
Python over TCP with a token.

Authenticates, writes (or reads) a file in its own `workspace` volume through
the fs built-in, and invokes a worker cached under a shared `get` id whose
module state counts calls. Prints what it saw as one JSON line.

    principal.py --tcp HOST:PORT --token TOKEN [--write TEXT]
"""

import argparse
import asyncio
import json
import os
import sys

import capnp

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
IMPORTS = [os.path.dirname(os.path.dirname(capnp.__file__))]
capnp.remove_import_hook()
caplet = capnp.load(os.path.join(ROOT, "schema", "caplet.capnp"), imports=IMPORTS)
fs = capnp.load(os.path.join(ROOT, "schema", "fs.capnp"), imports=IMPORTS)

COUNTER = "let calls = 0; export default { run: () => ++calls };"


async def main(address, token, write):
    host, port = address.rsplit(":", 1)
    stream = await capnp.AsyncIoStream.create_connection(host=host, port=int(port))
    client = capnp.TwoPartyClient(stream)
    gatekeeper = client.bootstrap().cast_as(caplet.Gatekeeper)
    broker = (await gatekeeper.authenticate(token)).broker

    grant = caplet.BuiltinGrant.new_message(kind="fs", name="workspace")
    volume = (await broker.builtin(grant)).cap.as_interface(fs.Volume)
    if write is not None:
        await volume.write(path="/owner.txt", content=write.encode())
    exists = (await volume.stat(path="/owner.txt")).exists
    owner = (await volume.read(path="/owner.txt")).content.decode() if exists else None

    code = caplet.WorkerCode.new_message()
    code.init("modules", 1)
    code.modules[0].name = "counter.js"
    code.modules[0].source = COUNTER
    worker = (await broker.get("shared-id", code)).worker
    calls = json.loads((await worker.invoke("run", "null")).output)

    print(json.dumps({"owner": owner, "calls": calls}))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--tcp", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--write")
    args = parser.parse_args()
    sys.exit(asyncio.run(capnp.run(main(args.tcp, args.token, args.write))))
