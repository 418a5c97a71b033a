// More capability calls than the subrequest limit.
// expect: subrequest_limit_exceeded
export default async (input, env) => {
  for (let i = 0; i < 10000; i++) {
    try {
      await env.named.name();
    } catch (e) {}
  }
};
