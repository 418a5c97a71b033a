// A wrong parameter name: `file` is not a field of Volume.read's params.
export default {
  async run(input: unknown, env: Env) {
    return await env.fs.read({ file: "/notes.txt" });
  },
} satisfies WorkerModule;
