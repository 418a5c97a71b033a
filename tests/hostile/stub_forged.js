// A forged stub (its prototype, no capability inside) cannot make calls.
// expect: exception
// message: TypeError: name() must be called on a capability stub
export default async (input, env) => {
  const forged = Object.create(Object.getPrototypeOf(env.named));
  return await forged.name();
};
