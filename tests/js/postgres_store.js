// fs and kv on a broker whose store is PostgreSQL: what one broker's
// worker writes, another broker's worker reads.
const enc = (s) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const dec = (b) => String.fromCharCode(...b);
const failure = async (promise) => {
  try {
    await promise;
    return "no error";
  } catch (e) {
    return `${e.name}: ${e.message}`;
  }
};

export default {
  async write(input, env) {
    await env.fs.write({ path: "/notes/marker.txt", content: enc(input.marker), createParents: true });
    await env.kv.put({ key: "marker", value: enc(input.marker) });
    return "written";
  },

  async read(input, env) {
    const file = await failure(env.fs.read({ path: "/notes/marker.txt" }));
    if (file !== "no error") return { error: file };
    const content = await env.fs.read({ path: "/notes/marker.txt" });
    const kv = await env.kv.get({ key: "marker" });
    return { file: dec(content.content), kv: dec(kv.value) };
  },

  // `input.batches` batches of `input.size` new files each, in `input.side`;
  // counts the files that landed, and the batches refused for the quota.
  async fill(input, env) {
    let landed = 0;
    let refused = 0;
    for (let i = 0; i < input.batches; i++) {
      const ops = [];
      for (let j = 0; j < input.size; j++) {
        ops.push({ write: { path: `/${input.side}-${i}-${j}`, content: enc("x") } });
      }
      const outcome = await failure(env.fs.batch({ ops }));
      if (outcome === "no error") landed += input.size;
      else if (outcome.includes("quota_exceeded")) refused += 1;
      else return { error: outcome };
    }
    return { landed, refused };
  },

  // One batch of `input.files` files of `input.bytes` bytes each.
  async big(input, env) {
    const content = new Uint8Array(input.bytes);
    const ops = [];
    for (let j = 0; j < input.files; j++) ops.push({ write: { path: `/big-${j}`, content } });
    await env.fs.batch({ ops });
    return "done";
  },

  async usage(input, env) {
    const usage = await env.fs.usage();
    const listing = await env.fs.list({ path: "/" });
    return { entries: Number(usage.entries), listed: listing.entries.length };
  },

  async kvGet(input, env) {
    return failure(env.kv.get({ key: "marker" }));
  },

  async plain(input) {
    return input.n * 2;
  },
};
