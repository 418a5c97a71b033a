// import() of a host module fails: "os" is node:os, which a worker may not have.
// expect: exception
// message: module_not_found: node:os is not available in a worker; a worker does not see its host
export default async () => await import("os");
