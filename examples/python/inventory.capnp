# inventory.capnp — the example's own interface: a stock service that a
# Python client implements and grants to a JavaScript worker.
#
# Who calls it: the worker's code, through `env.inventory`, via the broker.

@0x89d29c17024b1b90;

interface Inventory {
  # A warehouse's stock, by SKU.

  lookup @0 (sku :Text) -> (item :Item);
  # The item with this SKU. Unknown SKUs fail with `unknown sku: …`.
}

interface Item {
  # One stocked item. Handed out by `Inventory.lookup`; calls on it can be
  # pipelined on the lookup before it returns.

  price @0 () -> (cents :UInt32);
  # Unit price, in cents.

  stock @1 () -> (count :UInt32);
  # Units on hand.
}
