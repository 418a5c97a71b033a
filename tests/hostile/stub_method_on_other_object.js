// A stub method called on a plain object.
// expect: exception
export default async (input, env) => {
  const name = Object.getPrototypeOf(env.named).name;
  return await name.call({});
};
