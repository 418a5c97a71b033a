// new ArrayBuffer(2**31) is above the largest buffer length: a RangeError.
// expect: exception
export default () => new ArrayBuffer(2 ** 31).byteLength;
