// Timers still pending when the invocation's promise settles are cancelled:
// the second run sees that none of the first run's fired after it ended
// (while it ran, they did).
// expect: ok true
let fired = 0;
let atEnd = null;
export default async () => {
  const unchanged = atEnd === null || fired === atEnd;
  setTimeout(() => fired++, 0);
  setInterval(() => fired++, 1);
  await new Promise((resolve) => setTimeout(resolve, 20));
  setTimeout(() => fired++, 0);
  atEnd = fired;
  return unchanged && fired > 0;
};
