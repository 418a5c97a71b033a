// A wrong argument type: `limit` is a number.
export default {
  async run(_input: null, env: Env): Promise<object> {
    return await env.shop.search({ query: "tea", limit: "2" });
  },
};
