// A call whose answer is never awaited: the capability in it is released
// when the invocation ends, and awaiting it in a later invocation rejects.
let stashed;
export default {
  async run(input, env) {
    if (input === "stash") {
      stashed = env.factory.make({ label: "unawaited" });
      // Answered after `make` (same capability, in order): by now the
      // answer holding the new Thing has arrived.
      const before = (await env.factory.dropped()).labels;
      return { before };
    }
    try {
      await stashed;
      return { later: "resolved" };
    } catch (e) {
      return { later: `${e.name}: ${e.message}` };
    }
  },
};
