// An async loop that awaits nothing real: all microtasks.
// expect: cpu_limit_exceeded
export default async () => {
  for (;;) await null;
};
