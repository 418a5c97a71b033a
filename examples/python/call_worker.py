#!/usr/bin/env python3
"""caplet from Python, the other way round: a JavaScript worker implements a
typed interface, and Python calls it like any Cap'n Proto object, with
promise pipelining.

    python3 examples/python/call_worker.py --socket caplet.sock
"""

import argparse
import asyncio
import json
import os
import sys

import capnp

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA_DIR = os.path.join(HERE, "..", "..", "schema")
IMPORTS = [os.path.dirname(os.path.dirname(capnp.__file__))]

capnp.remove_import_hook()
caplet = capnp.load(os.path.join(SCHEMA_DIR, "caplet.capnp"), imports=IMPORTS)
inventory = capnp.load(os.path.join(HERE, "inventory.capnp"), imports=IMPORTS)


async def main(socket, skus):
    stream = await capnp.AsyncIoStream.create_unix_connection(socket)
    client = capnp.TwoPartyClient(stream)
    broker = client.bootstrap().cast_as(caplet.Broker)

    with open(os.path.join(HERE, "inventory_worker.js")) as f:
        source = f.read()
    with open(os.path.join(HERE, "inventory.capnp")) as f:
        schema_text = f.read()

    code = caplet.WorkerCode.new_message()
    code.init("modules", 1)
    code.modules[0].name = "inventory_worker.js"
    code.modules[0].source = source
    worker = (await broker.load(code)).worker

    schema = caplet.InterfaceSchema.new_message()
    source_schema = schema.init("source")
    source_schema.interfaceName = "inventory.capnp:Inventory"
    source_schema.init("files", 1)
    source_schema.files[0].name = "inventory.capnp"
    source_schema.files[0].text = schema_text
    cap = (await worker.entrypoint("inventory", schema)).cap.as_interface(inventory.Inventory)

    out = {}
    for sku in skus:
        # Pipelined: lookup() and the calls on its `item` go out together.
        item = cap.lookup(sku).item
        try:
            price, stock = await asyncio.gather(item.price(), item.stock())
            out[sku] = {"cents": price.cents, "count": stock.count}
        except capnp.KjException as e:
            out[sku] = {"error": e.description.splitlines()[0]}
    print(json.dumps(out, sort_keys=True))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--socket", required=True, help="the caplet serve Unix socket")
    parser.add_argument("skus", nargs="*", default=["A1", "B2"], help="SKUs to look up")
    args = parser.parse_args()
    sys.exit(asyncio.run(capnp.run(main(args.socket, args.skus))))
