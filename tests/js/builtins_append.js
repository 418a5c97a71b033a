// Appends `input.times` one-byte chunks to /shared.log, one call each.
export default async function run(input, env) {
  let size = 0;
  for (let i = 0; i < input.times; i++) {
    ({ size } = await env.fs.append({ path: "/shared.log", content: new Uint8Array([65]) }));
  }
  return size;
}
