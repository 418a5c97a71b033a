// A multipart body of many tiny parts parsed by formData(): the parts land on
// the worker's metered heap, so the memory limit stops it.
// expect: memory_limit_exceeded
export default async () => {
  const part = "--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nv\r\n";
  const body = part.repeat(200000) + "--b--\r\n";
  const form = await new Response(body, { headers: { "content-type": "multipart/form-data; boundary=b" } }).formData();
  return [...form.keys()].length;
};
