// Object.prototype.then makes every result a thenable: only this worker's own results are affected.
// expect: ok {"name":"polluted"}
export default async (input, env) => {
  Object.prototype.then = function (resolve) {
    delete Object.prototype.then;
    resolve({ name: "polluted" });
  };
  return await env.named.name();
};
