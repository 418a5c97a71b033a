// import() of qjs:std fails.
// expect: exception
// message: module_not_found: "qjs:std" imported from
export default async () => await import("qjs:std");
