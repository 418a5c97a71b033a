// No fetch, XMLHttpRequest or WebSocket.
// expect: ok ["undefined","undefined","undefined"]
export default () => [typeof fetch, typeof XMLHttpRequest, typeof WebSocket];
