// A forged stub (its prototype, no capability inside) cannot make calls.
// expect: exception
export default async (input, env) => {
  const forged = Object.create(Object.getPrototypeOf(env.named));
  return await forged.name();
};
