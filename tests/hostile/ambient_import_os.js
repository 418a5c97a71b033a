// import() of a host module fails: only the worker's own modules resolve.
// expect: exception
// message: module_not_found: "os" imported from
export default async () => await import("os");
