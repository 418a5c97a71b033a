// A worker written against the generated declarations: pipelined calls,
// optional params with defaults, unions, enums and bigint all type-check.
export default {
  async run(input: { folder: string }, env: Env): Promise<object> {
    const text = await env.notes.open({ path: input.folder }).dir.sub({ name: "2024" }).dir.read({ name: "todo.md" });
    const modified: bigint = text.modified;
    const more = await env.notes.open({ path: "/" }).dir.read({ name: "a", maxBytes: BigInt(10) });
    const { hits } = await env.notes.find({ query: { tag: "todo" } });
    const byWords = await env.notes.find({ query: { words: "buy milk", limit: 3 } });
    const scores = hits.map((h) => h.info.score + (h.info.tag === "done" ? 1 : 0));
    const file = await env.fs.read({ path: "/notes.txt" });
    const bytes: Uint8Array = file.content;
    await env.kv.put({ key: "last", value: bytes });
    const { entries } = await env.fs.list({ path: "/" });
    const names = entries.map((e) => `${e.name}:${e.kind === "directory" ? "d" : "f"}`);
    const usage = await env.fs.usage();
    const total: bigint = usage.bytes;
    try {
      await env.kv.delete({ key: "gone" });
    } catch (e) {
      if (e instanceof RpcError && e.type === "overloaded") console.warn("busy");
    }
    const page = await fetch("https://api.example.com/", { headers: { accept: "text/plain" } });
    const viaGateway = await env.fetch.fetch({
      request: { method: "GET", url: "https://api.example.com/", headers: [], body: new Uint8Array() },
    });
    console.log(page.status, viaGateway.response?.status);
    console.log(text.text.length, more.text, byWords.hits.length, names, scores);
    return { modified: String(modified), total: String(total) };
  },
} satisfies WorkerModule;
