// The AsyncFunction constructor cannot compile.
// expect: exception
// message: TypeError: eval is not supported
export default async () => await (async () => {}).constructor("return 1")();
