// WHATWG fetch end to end over env.fetch (policy "local"): Headers, a
// streamed request body, the response body as a ReadableStream, and an
// AbortSignal that cancels a request the server never answers.
const ascii = (text) => Uint8Array.from(text, (c) => c.charCodeAt(0));
const text = (bytes) => String.fromCharCode(...bytes);

export default async function run({ base }) {
  const out = {};
  const headers = new Headers({ "X-Caller": "e2e" });
  headers.append("Accept", "application/json");
  const parts = ["part one, ", "part two, ", "part three"];
  const body = new ReadableStream({
    pull(controller) {
      if (parts.length > 0) controller.enqueue(ascii(parts.shift()));
      else controller.close();
    },
  });
  const request = new Request(`${base}/echo`, { method: "POST", headers, body, duplex: "half" });
  const echoed = await fetch(request);
  out.echo = [echoed.status, echoed.headers.get("content-type"), await echoed.json()];

  // The response body is a stream, read chunk by chunk.
  const streamed = await fetch(`${base}/echo`, { method: "PUT", body: "streamed back" });
  const reader = streamed.body.getReader();
  const received = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    received.push(...value);
  }
  out.streamedBack = JSON.parse(text(received)).body;
  out.bodyUsed = streamed.bodyUsed;

  // Aborting cancels a request in flight: the server never answers /slow.
  const controller = new AbortController();
  const slow = fetch(`${base}/slow`, { signal: controller.signal });
  await fetch(`${base}/echo`);
  controller.abort();
  out.aborted = await slow.then(() => "resolved", (e) => `${e.name}: ${e.message}`);
  // Asked while this invocation still runs (its end would drop the call too).
  out.serverSawHangUp = await (await fetch(`${base}/hung-up`)).text();
  // An already aborted signal rejects at once with its reason.
  out.alreadyAborted = await fetch(`${base}/echo`, { signal: AbortSignal.abort("no thanks") })
    .then(() => "resolved", (e) => e);
  // redirect: "error" refuses a redirected answer; "manual" is refused.
  out.redirectError = await fetch(`${base}/moved`, { redirect: "error" }).then(() => "resolved", (e) => e.name);
  const followed = await fetch(`${base}/moved`);
  out.redirectFollow = [followed.redirected, followed.url.endsWith("/echo"), followed.status];
  out.redirectManual = await fetch(`${base}/moved`, { redirect: "manual" }).then(() => "resolved", (e) => e.name);
  return out;
}
