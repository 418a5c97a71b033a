// A worker written for Cloudflare Workers returns a Response. Its JSON is an
// empty {} (so are a Request's, Headers', a Blob's, a stream's): the
// invocation fails with output_not_serializable naming the class and what to
// return instead, not with a silent {}.
export default async function run() {
  return new Response(JSON.stringify({ ok: true }), { headers: { "content-type": "application/json" } });
}
