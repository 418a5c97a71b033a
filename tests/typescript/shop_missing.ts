// A required field left out, in a nested object: `ship_to.city`.
export default {
  async run(_input: null, env: Env): Promise<object> {
    return await env.shop.place_order({ customer: "ann", lines: [], ship_to: { street: "1 Main St" } });
  },
};
