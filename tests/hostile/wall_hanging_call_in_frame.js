// Awaits a never-answering call it also keeps in a local: the frame, the
// pipeline and its promise form a cycle that must not outlive the rebuilt
// runtime (QuickJS aborts the process when a runtime is freed with objects
// alive).
// wall-ms: 500
// expect: wall_time_exceeded
export default async (input, env) => {
  const first = env.hang.name();
  const second = env.hang.name();
  await first;
  return second;
};
