// http from JavaScript: the global fetch() over env.fetch (policy "local"),
// and env.open (policy "open", which keeps the default address rules).
const failure = async (promise) => {
  try {
    await promise;
    return "no error";
  } catch (e) {
    return `${e.name}: ${e.message}`;
  }
};

export default async function run({ base, port }, env) {
  const out = {};
  const hello = await fetch(`${base}/hello`, { headers: { "X-Caller": "js" } });
  out.hello = {
    status: hello.status,
    ok: hello.ok,
    text: await hello.text(),
    header: hello.headers.get("X-Test"),
    missing: hello.headers.get("x-nope"),
    names: [...hello.headers].map(([name]) => name).sort(),
  };
  const posted = await fetch(`${base}/json`, { method: "post", body: "ping" });
  // A body is read once (Fetch Standard); a clone reads its own copy.
  const copy = posted.clone();
  out.json = await posted.json();
  out.bytes = new Uint8Array(await copy.arrayBuffer()).length;
  out.readTwice = await failure(posted.text());
  const notFound = await fetch(`${base}/nowhere`);
  out.notFound = [notFound.status, notFound.ok];

  out.deniedHost = await failure(fetch("http://denied.example/"));
  out.loopback = await failure(env.open.fetch({ request: { url: `${base}/hello` } }));
  out.loopbackName = await failure(
    env.open.fetch({ request: { url: `http://localhost:${port}/hello` } }),
  );
  out.privateName = await failure(
    env.open.fetch({ request: { url: `http://private.test:${port}/hello` } }),
  );
  out.redirect = await failure(fetch(`${base}/redirect`));
  out.big = await failure(fetch(`${base}/big`));
  out.badArgs = await failure(fetch(42));

  const key = await fetch(`${base}/echo-key`);
  const seen = await key.text();
  console.log("the server saw", seen, key.headers.get("x-echo"));
  out.keyBody = seen;
  out.keyHeader = key.headers.get("x-echo");
  if (seen !== "[redacted]") {
    throw new Error(`credential leaked: ${seen}`);
  }
  return out;
}
