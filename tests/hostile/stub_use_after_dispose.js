// A disposed stub cannot make calls.
// expect: exception
export default async (input, env) => {
  const stub = env.named;
  stub[Symbol.dispose]();
  return await stub.name();
};
