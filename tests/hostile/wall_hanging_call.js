// Awaits a capability call that never answers: the wall-clock limit ends it.
// wall-ms: 500
// expect: wall_time_exceeded
export default async (input, env) => await env.hang.name();
