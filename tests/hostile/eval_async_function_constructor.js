// The AsyncFunction constructor cannot compile.
// expect: exception
export default async () => await (async () => {}).constructor("return 1")();
