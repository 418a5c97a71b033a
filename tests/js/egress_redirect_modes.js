// fetch's redirect modes end to end (policy "secure" over plain http):
// "follow" (the default) follows, every hop checked by the policy and
// bounded by its max_redirects; "manual" gives the 3xx response itself, as
// Deno and workerd do; "error" rejects at the first redirect. Also
// `env.fetch.fetch({ request: { redirect } })`, the gateway's own field.
const outcome = (promise) => promise.then(() => "resolved", (e) => `${e.name}: ${e.message}`);
const show = (r) => ({
  status: r.status, type: r.type, redirected: r.redirected, url: r.url,
  location: r.headers.get("location"),
});

export default async function run({ base }, env) {
  const out = {};
  const followed = await fetch(`${base}/moved`);
  out.follow = { ...show(followed), body: await followed.text() };
  const manual = await fetch(`${base}/moved`, { redirect: "manual" });
  out.manual = { ...show(manual), ok: manual.ok, hop: manual.headers.get("x-hop"), body: await manual.text() };
  // Not followed, so a location the policy refuses is no error.
  out.manualAway = show(await fetch(new Request(`${base}/away`, { redirect: "manual" })));
  out.followAway = await outcome(fetch(`${base}/away`));
  const refused = await fetch(`${base}/moved`, { redirect: "error" }).catch((e) => e);
  out.error = [`${refused.name}: ${refused.message}`, refused.cause?.name];
  const looped = await fetch(`${base}/loop`).catch((e) => e);
  out.loop = [`${looped.name}: ${looped.message}`, looped.cause?.name];
  out.manualLoop = (await fetch(`${base}/loop`, { redirect: "manual" })).status;
  // The gateway's own field, through env.fetch.
  const { response } = await env.fetch.fetch({ request: { url: `${base}/moved`, redirect: "manual" } });
  out.gatewayManual = [response.status, response.redirects, response.url];
  return out;
}
