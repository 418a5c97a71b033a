#!/usr/bin/env python3
"""caplet from Python: implement a capability, grant it to a JavaScript worker,
invoke the worker, print its result.

Uses only pycapnp and the schemas: caplet's public `schema/caplet.capnp` and
this example's own `inventory.capnp`.

    python3 examples/python/run_worker.py --socket caplet.sock
"""

import argparse
import asyncio
import json
import os
import sys

import capnp

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA_DIR = os.path.join(HERE, "..", "..", "schema")
# `/capnp/schema.capnp` (imported by caplet.capnp) ships with pycapnp.
IMPORTS = [os.path.dirname(os.path.dirname(capnp.__file__))]

capnp.remove_import_hook()
caplet = capnp.load(os.path.join(SCHEMA_DIR, "caplet.capnp"), imports=IMPORTS)
inventory = capnp.load(os.path.join(HERE, "inventory.capnp"), imports=IMPORTS)

STOCK = {"A1": (250, 10), "B2": (1999, 1), "C3": (5, 0)}


class Item(inventory.Item.Server):
    def __init__(self, sku):
        self.sku = sku

    async def price(self, _context, **kwargs):
        return STOCK[self.sku][0]

    async def stock(self, _context, **kwargs):
        return STOCK[self.sku][1]


class Inventory(inventory.Inventory.Server):
    def __init__(self):
        self.lookups = []

    async def lookup(self, sku, _context, **kwargs):
        if sku not in STOCK:
            raise KeyError(f"unknown sku: {sku}")
        self.lookups.append(sku)
        return Item(sku)


async def main(socket, order):
    stream = await capnp.AsyncIoStream.create_unix_connection(socket)
    client = capnp.TwoPartyClient(stream)
    broker = client.bootstrap().cast_as(caplet.Broker)

    with open(os.path.join(HERE, "worker.js")) as f:
        source = f.read()
    with open(os.path.join(HERE, "inventory.capnp")) as f:
        schema_text = f.read()

    service = Inventory()
    code = caplet.WorkerCode.new_message()
    code.init("modules", 1)
    code.modules[0].name = "worker.js"
    code.modules[0].source = source
    code.init("env", 1)
    binding = code.env[0]
    binding.name = "inventory"
    binding.cap = service
    source_schema = binding.init("interfaceSchema").init("source")
    source_schema.interfaceName = "inventory.capnp:Inventory"
    source_schema.init("files", 1)
    source_schema.files[0].name = "inventory.capnp"
    source_schema.files[0].text = schema_text

    worker = (await broker.load(code)).worker
    result = await worker.invoke("run", json.dumps(order))
    for line in result.logs:
        print(f"[{line.level}] {line.text}", file=sys.stderr)
    if result._has("error"):
        print(f"error: {result.error.kind}: {result.error.message}", file=sys.stderr)
        return 1
    output = json.loads(result.output)
    output["lookups"] = sorted(service.lookups)
    print(json.dumps(output, sort_keys=True))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--socket", required=True, help="the caplet serve Unix socket")
    parser.add_argument(
        "--order",
        default='[{"sku": "A1", "quantity": 4}, {"sku": "B2", "quantity": 2}]',
        help="the order, as JSON",
    )
    args = parser.parse_args()
    sys.exit(asyncio.run(capnp.run(main(args.socket, json.loads(args.order)))))
