// A setter on Object.prototype for a results field. Decoding the results
// assigns fields with [[Set]], so the worker's own trap fires: it can break
// only its own results (its realm is its own), never the host's.
// expect: exception
// message: Error: trapped
export default async (input, env) => {
  Object.defineProperty(Object.prototype, "name", {
    set() {
      throw new Error("trapped");
    },
    configurable: true,
  });
  return (await env.named.name()).name;
};
