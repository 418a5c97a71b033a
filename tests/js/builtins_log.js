// Logs a line, then waits on env.gate, which the test answers only once it
// has received that line through the log sink.
export default async function run(input, env) {
  console.log("step 1");
  const { name } = await env.gate.name();
  console.warn("step 2");
  return name;
}
