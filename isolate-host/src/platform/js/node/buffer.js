// node:buffer: the worker's global Buffer (built on first use from
// platform/js/buffer.js) and the module's constants.
const Buffer = globalThis.Buffer;
export { Buffer };
export const SlowBuffer = Buffer;
export const INSPECT_MAX_BYTES = 50;
export const kMaxLength = 0x7fffffff;
export const constants = { MAX_LENGTH: kMaxLength, MAX_STRING_LENGTH: 0x3fffffff };
export const atob = (s) => globalThis.atob(s);
export const btoa = (s) => globalThis.btoa(s);
export default { Buffer, SlowBuffer, INSPECT_MAX_BYTES, kMaxLength, constants, atob, btoa };
