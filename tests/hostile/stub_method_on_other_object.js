// A stub method called on a plain object.
// expect: exception
// message: TypeError: name() must be called on a capability stub
export default async (input, env) => {
  const name = Object.getPrototypeOf(env.named).name;
  return await name.call({});
};
