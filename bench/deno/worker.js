// The Deno peer's worker: answers each message, computing fib(n) when asked.
function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}
self.onmessage = (event) => {
  const message = event.data;
  self.postMessage(message && message.fib !== undefined ? fib(message.fib) : message);
};
