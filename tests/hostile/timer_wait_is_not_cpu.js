// Waiting on timers counts toward wall time, not CPU time: 600 ms of waits
// under a 200 ms CPU limit.
// expect: ok true
export default async () => {
  const start = Date.now();
  for (let i = 0; i < 6; i++) await new Promise((resolve) => setTimeout(resolve, 100));
  return Date.now() - start >= 600;
};
