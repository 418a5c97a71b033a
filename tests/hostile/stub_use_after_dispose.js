// A disposed stub cannot make calls.
// expect: exception
// message: name(): this capability stub was disposed
export default async (input, env) => {
  const stub = env.named;
  stub[Symbol.dispose]();
  return await stub.name();
};
