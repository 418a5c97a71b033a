// 'a'.repeat(2**30) is above QuickJS's string length limit: a RangeError, before any allocation.
// expect: exception
// message: RangeError: invalid string length
export default () => "a".repeat(2 ** 30).length;
