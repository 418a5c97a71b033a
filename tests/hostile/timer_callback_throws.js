// An exception a timer's callback does not catch fails the invocation.
// expect: exception
// message: boom from a timer
export default () => new Promise(() => setTimeout(() => { throw new Error("boom from a timer"); }, 0));
