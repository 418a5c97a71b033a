// A wrong argument name: `limits` for `limit`.
export default {
  async run(_input: null, env: Env): Promise<object> {
    return await env.shop.search({ query: "tea", limits: 2 });
  },
};
