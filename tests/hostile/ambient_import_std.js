// import() of qjs:std fails.
// expect: exception
export default async () => await import("qjs:std");
