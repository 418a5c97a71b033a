// A wrong parameter type: Dir.read's `name` is a string.
export default {
  async run(input: unknown, env: Env) {
    return await env.notes.open({ path: "/" }).dir.read({ name: 42 });
  },
} satisfies WorkerModule;
