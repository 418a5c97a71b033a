// Overriding a method on a stub changes only that JS object; the capability is untouched.
// expect: ok ["fake","hostile"]
export default async (input, env) => {
  const real = Object.getPrototypeOf(env.named).name;
  try {
    env.named.name = () => ({ name: "fake" });
  } catch (e) {}
  const faked = env.named.name().name;
  const called = (await real.call(env.named)).name;
  return [faked, called];
};
