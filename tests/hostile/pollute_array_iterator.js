// A poisoned array iterator does not break decoding of results.
// expect: ok "hostile"
export default async (input, env) => {
  Array.prototype[Symbol.iterator] = function* () {
    throw new Error("hijacked");
  };
  return (await env.named.name()).name;
};
