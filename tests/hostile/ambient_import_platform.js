// The platform's own modules (and its native half) are not importable.
// expect: exception
// message: module_not_found: "caplet:platform/native.js" imported from
export default async () => await import("caplet:platform/native.js");
