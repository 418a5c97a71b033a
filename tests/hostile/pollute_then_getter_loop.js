// A getter-only `then` on Object.prototype that never returns. Building the
// pipeline assigns `then` with [[Set]], which the accessor refuses (a
// TypeError): the worker breaks only its own capability calls.
// expect: exception
// message: TypeError: no setter for property
export default async (input, env) => {
  Object.defineProperty(Object.prototype, "then", {
    get() {
      for (;;) {}
    },
    configurable: true,
  });
  return await env.named.name();
};
