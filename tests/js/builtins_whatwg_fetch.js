// WHATWG fetch end to end over env.fetch (policy "local"): Headers, a
// streamed request body, the response body as a ReadableStream, and
// AbortSignals (an AbortController's, AbortSignal.timeout) that cancel a
// request the server never answers.
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
  out.utf8Header = [...echoed.headers.get("x-utf8")].map((c) => c.charCodeAt(0));

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

  // A streamed body that never ends is cut at the gateway's 32 MiB and
  // cancelled, with a named error, before anything is sent.
  let cancelled = null;
  const chunk = new Uint8Array(1 << 20);
  const endless = new ReadableStream({
    pull(c) { c.enqueue(chunk); },
    cancel(reason) { cancelled = reason.message; },
  });
  out.endlessBody = await fetch(`${base}/echo`, { method: "POST", body: endless, duplex: "half" })
    .then(() => "resolved", (e) => `${e.name}: ${e.message}`);
  out.endlessCancelled = cancelled;

  // Aborting cancels a request in flight: the server never answers /slow.
  const controller = new AbortController();
  const slow = fetch(`${base}/slow`, { signal: controller.signal });
  await fetch(`${base}/echo`);
  controller.abort();
  out.aborted = await slow.then(() => "resolved", (e) => `${e.name}: ${e.message}`);
  // Asked while this invocation still runs (its end would drop the call too).
  out.serverSawHangUp = await (await fetch(`${base}/hung-up`)).text();
  // AbortSignal.timeout aborts a request the server never answers.
  out.timedOut = await fetch(`${base}/slow`, { headers, signal: AbortSignal.timeout(50) })
    .then(() => "resolved", (e) => `${e.name}: ${e.message}`);
  // An already aborted signal rejects at once with its reason.
  out.alreadyAborted = await fetch(`${base}/echo`, { signal: AbortSignal.abort("no thanks") })
    .then(() => "resolved", (e) => e);
  // redirect: "error" rejects at the redirect; "follow" follows it;
  // "manual" gives the 302 itself, as Deno and workerd do.
  out.redirectError = await fetch(`${base}/moved`, { redirect: "error" }).then(() => "resolved", (e) => e.name);
  const followed = await fetch(`${base}/moved`);
  out.redirectFollow = [followed.redirected, followed.url.endsWith("/echo"), followed.status];
  const manual = await fetch(`${base}/moved`, { redirect: "manual" });
  out.redirectManual = [manual.status, manual.headers.get("location"), manual.redirected, manual.type];
  return out;
}
