// JS objects passed where an interface is expected are served back to the
// Rust capability, which calls them during the invocation.
class Multiplier {
  constructor(k) {
    this.k = k;
  }
  onValue({ n }) {
    return { doubled: n * this.k };
  }
}

export default {
  async run(input, env) {
    const sync = await env.caller.callBack({ target: { onValue: ({ n }) => ({ doubled: n * 2 }) }, n: 21 });
    const nested = await env.caller.callBack({
      target: {
        async onValue({ n }) {
          const inner = await env.caller.callBack({ target: { onValue: ({ n }) => ({ doubled: n + 1 }) }, n });
          return { doubled: inner.result * 2 };
        },
      },
      n: 5,
    });
    const instance = await env.caller.callBack({ target: new Multiplier(3), n: 7 });
    let thrown = null;
    try {
      await env.caller.callBack({
        target: {
          onValue() {
            throw new Error("nope from js");
          },
        },
        n: 1,
      });
    } catch (e) {
      thrown = [e.type, e.message];
    }
    return { sync: sync.result, async: nested.result, instance: instance.result, thrown };
  },
};
