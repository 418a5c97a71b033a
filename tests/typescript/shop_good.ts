// A worker written against the declarations of the upstream MCP server
// `shop` (tests/mcp/typed.py): nested objects, arrays of them, string
// enums, optional and nullable fields, and the tools' typed results.
export default {
  async run(input: { customer: string }, env: Env): Promise<object> {
    const order = await env.shop.place_order({
      customer: input.customer,
      lines: [{ sku: "tea", quantity: 2 }, { sku: "mug", quantity: 1, size: "large" }],
      ship_to: { street: "1 Main St", city: "Springfield", zip: null },
      express: true,
    });
    const total: number = order.total;
    const found = await env.shop.search({ query: "tea", sort: "price", limit: 2, max_price: null, tags: ["green"] });
    const names: string[] = found.result;
    const plain = await env.shop.search({ query: "cup" });
    return { id: order.id, lines: order.lines, total, first: names[0], count: plain.result.length };
  },
};
