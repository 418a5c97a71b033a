// Fetch Standard §5 Body.formData(): application/x-www-form-urlencoded and
// multipart/form-data (RFC 7578) bodies, and FormData as a body read back.
const rejects = (p) => p.then(() => "no error", (e) => `${e.constructor.name}: ${e.message}`);
const multipart = (boundary, body) =>
  new Response(body, { headers: { "content-type": `multipart/form-data; boundary=${boundary}` } });

export default async function run() {
  const out = {};

  // A hand-written body as a browser sends it (RFC 7578 §4): a text field, a
  // UTF-8 text field, a file with a type and a file without one.
  const body = [
    "--AaB03x",
    'Content-Disposition: form-data; name="field1"',
    "",
    "Joe Blow",
    "--AaB03x",
    'Content-Disposition: form-data; name="caf\u00e9"',
    "",
    "cr\u00e8me br\u00fbl\u00e9e",
    "--AaB03x",
    'Content-Disposition: form-data; name="pics"; filename="file1.txt"',
    "Content-Type: text/html",
    "",
    "<p>one</p>",
    "--AaB03x",
    'Content-Disposition: form-data; name="pics"; filename="raw.bin"',
    "",
    "two",
    "--AaB03x--",
    "",
  ].join("\r\n");
  const form = await multipart("AaB03x", body).formData();
  out.keys = [...form.keys()];
  out.text = [form.get("field1"), form.get("caf\u00e9")];
  const [html, raw] = form.getAll("pics");
  out.files = [
    [html instanceof File, html.name, html.type, html.size, await html.text()],
    [raw instanceof File, raw.name, raw.type, await raw.text()],
  ];

  // A FormData serialized as a body and parsed back (Request and Response).
  const sent = new FormData();
  sent.append("a", "1");
  sent.append("a", "line one\nline two");
  sent.append("blob", new Blob([new Uint8Array([0, 255, 10, 13])], { type: "application/x-thing" }));
  sent.append("doc", new File(["hi"], "q\"uote.txt", { type: "text/plain" }));
  const back = await new Request("https://example.com/", { method: "POST", body: sent }).formData();
  out.roundTrip = [
    back.getAll("a"),
    back.get("blob").name, back.get("blob").type, Array.from(await back.get("blob").bytes()),
    back.get("doc").name, await back.get("doc").text(),
  ];

  // application/x-www-form-urlencoded, parsed as URLSearchParams would.
  const urlencoded = await new Response("a=1&b=x+y&a=%E2%82%AC&=empty", {
    headers: { "content-type": "application/x-www-form-urlencoded;charset=UTF-8" },
  }).formData();
  out.urlencoded = [...urlencoded];
  out.fromParams = [...(await new Response(new URLSearchParams({ k: "v w" })).formData())];

  // Errors are TypeErrors: a wrong type, no boundary, a broken body.
  out.errors = [
    await rejects(new Response("a=1", { headers: { "content-type": "text/plain" } }).formData()),
    await rejects(new Response(body, { headers: { "content-type": "multipart/form-data" } }).formData()),
    await rejects(multipart("AaB03x", "--AaB03x\r\nno colon here\r\n\r\nx\r\n--AaB03x--\r\n").formData()),
    await rejects(multipart("AaB03x", '--AaB03x\r\nContent-Disposition: form-data\r\n\r\nx\r\n--AaB03x--\r\n').formData()),
  ];
  return out;
}
