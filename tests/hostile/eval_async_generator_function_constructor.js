// The AsyncGeneratorFunction constructor cannot compile.
// expect: exception
export default async () => (await (async function* () {}).constructor("yield 1")().next()).value;
