// A value outside a string enum, in an array of objects: `size`.
export default {
  async run(_input: null, env: Env): Promise<object> {
    return await env.shop.place_order({ customer: "ann", lines: [{ sku: "tea", quantity: 1, size: "medium" }], ship_to: { street: "1 Main St", city: "X" } });
  },
};
