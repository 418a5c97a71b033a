// Console Standard: trace logs "Trace" with the arguments and the stack,
// without the platform's own frames.
function inner() { console.trace("here", 1); }
export default function run() { inner(); console.trace(); return 1; }
