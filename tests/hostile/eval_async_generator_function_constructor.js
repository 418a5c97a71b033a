// The AsyncGeneratorFunction constructor cannot compile.
// expect: exception
// message: TypeError: eval is not supported
export default async () => (await (async function* () {}).constructor("yield 1")().next()).value;
