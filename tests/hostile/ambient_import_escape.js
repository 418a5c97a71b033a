// import() climbing above the worker's modules fails.
// expect: exception
// message: module_not_found: "../../etc/passwd" imported from
export default async () => await import("../../etc/passwd");
