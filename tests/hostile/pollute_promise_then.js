// Replacing Promise.prototype.then does not reach the pipelines, which captured the real one.
// expect: ok {"name":"hostile"}
export default async (input, env) => {
  Promise.prototype.then = function () {
    throw new Error("hijacked");
  };
  const { name } = await env.named.name();
  return { name };
};
