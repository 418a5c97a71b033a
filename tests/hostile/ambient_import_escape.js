// import() climbing above the worker's modules fails.
// expect: exception
export default async () => await import("../../etc/passwd");
