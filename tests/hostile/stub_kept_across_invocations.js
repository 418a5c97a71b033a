// A stub smuggled into module state is released when its invocation ends.
// expect: exception
// message: first run keeps the stub
// then-message: name(): this capability stub was disposed
let kept;
export default async (input, env) => {
  if (!kept) {
    kept = env.named;
    throw new Error("first run keeps the stub");
  }
  return await kept.name();
};
