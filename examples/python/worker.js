// Prices an order against the inventory the client granted as `env.inventory`.
// Each `lookup(...).item.price()` is pipelined: the lookup and the calls on
// its result travel together, with no round trip in between.
export default {
  async run(order, env) {
    const lines = await Promise.all(
      order.map(async ({ sku, quantity }) => {
        const item = env.inventory.lookup({ sku }).item;
        const [{ cents }, { count }] = await Promise.all([item.price(), item.stock()]);
        return { sku, quantity, cents, available: count >= quantity };
      }),
    );
    const total = lines.reduce((sum, line) => sum + line.cents * line.quantity, 0);
    console.log(`priced ${lines.length} lines`);
    return { lines, total };
  },
};
