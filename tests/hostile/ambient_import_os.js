// import() of a host module fails: only the worker's own modules resolve.
// expect: exception
export default async () => await import("os");
