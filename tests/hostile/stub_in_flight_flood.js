// More calls waiting at once than the in-flight limit.
// expect: calls_in_flight_exceeded
export default async (input, env) => {
  const calls = [];
  for (let i = 0; i < 1000; i++) {
    try {
      calls.push(env.hang.name());
    } catch (e) {}
  }
  await Promise.all(calls);
};
