// The same Inventory interface, implemented in JavaScript and served to a
// client as a typed capability: `Worker.entrypoint("inventory", schema)`.
const STOCK = { A1: [250, 10], B2: [1999, 1] };

const item = (sku) => ({
  price: () => ({ cents: STOCK[sku][0] }),
  stock: () => ({ count: STOCK[sku][1] }),
});

export const inventory = {
  lookup({ sku }) {
    if (!(sku in STOCK)) throw new RangeError(`unknown sku: ${sku}`);
    return { item: item(sku) };
  },
};
