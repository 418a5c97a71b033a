// fs from JavaScript: atomic batches, path traversal, quotas, read-only
// volumes, and a marker that a later run (a new broker) must still see.
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
    await env.fs.mkdir({ path: "/notes", parents: true });
    await env.fs.write({ path: "/notes/marker.txt", content: enc(input.marker) });
    await env.kv.put({ key: "marker", value: enc(input.marker) });
    return "written";
  },

  async read(input, env) {
    const file = await env.fs.read({ path: "notes/marker.txt" });
    const kv = await env.kv.get({ key: "marker" });
    return { file: dec(file.content), kv: dec(kv.value) };
  },

  async rules(input, env) {
    const out = {};
    out.batch = await failure(
      env.fs.batch({
        ops: [
          { write: { path: "/first.txt", content: enc("1") } },
          { remove: { path: "/missing" } },
          { write: { path: "/third.txt", content: enc("3") } },
        ],
      }),
    );
    out.batchTrace = [
      (await env.fs.stat({ path: "/first.txt" })).exists,
      (await env.fs.stat({ path: "/third.txt" })).exists,
    ];
    out.traversal = await failure(env.fs.read({ path: "../../etc/passwd" }));
    out.traversalWrite = await failure(env.fs.write({ path: "/a/../../b", content: enc("x") }));
    out.quota = await failure(env.tiny.write({ path: "/big.txt", content: enc("0123456789ABCDEF") }));
    out.quotaUsage = Number((await env.tiny.usage()).bytes);
    out.readOnly = await failure(env.docs.write({ path: "/x.txt", content: enc("x") }));
    out.readOnlyList = (await env.docs.list({ path: "/" })).entries.length;
    return out;
  },
};
