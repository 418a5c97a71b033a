// Fetch Standard §5 (Headers, Request, Response, Body) and the File API
// (Blob, File) and XHR's FormData, without the network.
const fails = (f) => { try { f(); return "no error"; } catch (e) { return e.constructor.name; } };
const rejects = (p) => p.then(() => "no error", (e) => e.constructor.name);

export default async function run() {
  const out = {};

  // Headers: names lower-cased, values trimmed, sorted and combined.
  const h = new Headers({ "Content-Type": "text/plain", "X-B": "2" });
  h.append("x-a", " 1 ");
  h.append("X-A", "3");
  h.append("Set-Cookie", "a=1");
  h.append("set-cookie", "b=2");
  out.headers = [...h];
  out.get = [h.get("X-A"), h.get("nope"), h.has("x-b"), h.getSetCookie()];
  h.set("x-a", "9");
  h.delete("x-b");
  out.afterSet = [[...h.keys()], h.get("x-a")];
  out.headerErrors = [fails(() => new Headers({ "bad name": "x" })), fails(() => h.append("x", "a\nb")),
    fails(() => new Headers([["a"]])), fails(() => Response.error().headers.append("a", "b"))];

  // Response.
  const r = new Response("hello", { status: 201, statusText: "Created", headers: { "X-One": "1" } });
  out.response = [r.status, r.ok, r.statusText, r.headers.get("content-type"), r.type, r.url, r.redirected, r.bodyUsed];
  out.text = [await r.text(), r.bodyUsed, await rejects(r.text())];
  const j = Response.json({ a: 1 }, { status: 202 });
  out.json = [j.status, j.headers.get("content-type"), await j.json()];
  const moved = Response.redirect("https://example.com/next", 301);
  out.redirect = [moved.status, moved.headers.get("location"), fails(() => Response.redirect("https://x/", 200))];
  const error = Response.error();
  out.error = [error.type, error.status, error.ok];
  out.statusErrors = [fails(() => new Response(null, { status: 600 })), fails(() => new Response("x", { status: 204 })),
    fails(() => new Response("x", { statusText: "a\nb" }))];
  const original = new Response("abc");
  const copy = original.clone();
  out.clone = [await original.text(), await copy.text()];
  const streamed = new Response(new ReadableStream({ start(c) { c.enqueue(new Uint8Array([104, 105])); c.close(); } }));
  out.streamBody = await streamed.text();
  const typed = await new Response("abc", { headers: { "content-type": "Text/Plain" } }).blob();
  out.blob = [typed.size, typed.type];
  out.nullBody = [new Response(null).body, await new Response().text(), new Response("x").body instanceof ReadableStream];
  const bytes = await new Response(new Uint8Array([1, 2, 3])).bytes();
  out.bytes = [bytes instanceof Uint8Array, Array.from(bytes)];

  // Request.
  const req = new Request("https://example.com/a", { method: "post", body: "x", headers: { X: "1" } });
  out.request = [req.method, req.url, req.headers.get("content-type"), req.redirect, req.signal.aborted, req.bodyUsed];
  out.methods = [new Request("https://e/", { method: "patch" }).method, new Request("https://e/", { method: "delete" }).method];
  out.requestErrors = [fails(() => new Request("https://e/", { body: "x" })), fails(() => new Request("https://e/", { method: "CONNECT" })),
    fails(() => new Request("https://e/", { method: "POST", body: new ReadableStream() })),
    fails(() => new Request("https://e/", { redirect: "bogus" })), fails(() => new Request("no scheme"))];
  const manual = new Request("https://e/", { redirect: "manual" });
  out.redirectModes = [manual.redirect, manual.clone().redirect, new Request(manual).redirect, new Request(manual, { redirect: "error" }).redirect];
  const ac = new AbortController();
  const following = new Request("https://e/", { signal: ac.signal });
  ac.abort("why");
  out.signal = [following.signal.aborted, following.signal.reason, following.signal !== ac.signal];
  const moveTo = new Request(req);
  out.moved = [req.bodyUsed, await moveTo.text(), moveTo.method];
  const put = new Request("https://e/", { method: "PUT", body: "q" });
  const putCopy = put.clone();
  out.requestClone = [await put.text(), await putCopy.text(), putCopy.method];
  const duplex = new Request("https://e/", { method: "POST", duplex: "half",
    body: new ReadableStream({ start(c) { c.enqueue(new Uint8Array([111, 107])); c.close(); } }) });
  out.duplex = await duplex.text();

  // Blob and File.
  const b = new Blob(["ab", new Uint8Array([99]), new Blob(["d"])], { type: "Text/Plain" });
  out.blobParts = [b.size, b.type, await b.text(), Array.from(await b.bytes())];
  out.slice = [await b.slice(1, 3).text(), b.slice(-2).size, b.slice(1, 3, "X/Y").type, b.slice(3, 1).size];
  out.endings = await new Blob(["a\r\nb\rc"], { endings: "native" }).text();
  out.blobTypes = [new Blob([], { type: "é" }).type, new Blob(["é"]).size, new Blob(["\ud800"]).size];
  const f = new File(["x"], "a.txt", { type: "text/plain", lastModified: 42 });
  out.file = [f.name, f.lastModified, f.size, f instanceof Blob, String(f)];
  const chunks = [];
  for await (const chunk of b.stream()) chunks.push(...chunk);
  out.blobStream = chunks;

  // FormData, and a multipart request body.
  const fd = new FormData();
  fd.append("a", "1");
  fd.append("a", "2");
  fd.append("f", new Blob(["z"]), "z.txt");
  fd.set("b", "3");
  out.formData = [fd.get("a"), fd.getAll("a"), fd.has("f"), fd.get("f").name, fd.get("f") instanceof File, [...fd.keys()]];
  fd.delete("a");
  fd.append("g", new Blob([]));
  out.formAfter = [[...fd.keys()], fd.get("g").name];
  const form = new Request("https://e/", { method: "POST", body: fd });
  const type = form.headers.get("content-type");
  const body = await form.text();
  const boundary = type.split("boundary=")[1];
  out.multipart = [type.startsWith("multipart/form-data; boundary="),
    body.startsWith(`--${boundary}\r\nContent-Disposition: form-data; name="f"; filename="z.txt"\r\nContent-Type: application/octet-stream\r\n\r\nz\r\n`),
    body.includes(`Content-Disposition: form-data; name="b"\r\n\r\n3\r\n`), body.endsWith(`--${boundary}--\r\n`)];
  out.tags = [String(h), String(r), String(req), String(fd), String(b)];
  return out;
}
