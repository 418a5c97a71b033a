// JSON.parse of ten million nested arrays with the largest stack a broker
// grants: QuickJS's stack check must fire before the host's real stack ends.
// stack-kb: 4096
// expect: stack_overflow
export default () => JSON.parse("[".repeat(1e7));
