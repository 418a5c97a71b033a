// A first caplet worker: the default export's `run` method gets the input
// (parsed JSON), the capabilities it was granted (`env`) and a context object.
export default {
  async run(input, env, ctx) {
    const name = input?.name ?? "world";
    console.log(`greeting ${name}`);
    return { message: `Hello, ${name}!`, length: name.length };
  },
};
