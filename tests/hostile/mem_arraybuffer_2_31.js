// new ArrayBuffer(2**31) is above the largest buffer length: a RangeError.
// expect: exception
// message: RangeError: invalid array buffer length
export default () => new ArrayBuffer(2 ** 31).byteLength;
