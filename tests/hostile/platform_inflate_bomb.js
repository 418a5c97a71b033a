// A 1 MiB deflate-raw stream that inflates to ~1 GiB of zeros (one fixed
// Huffman block repeating "258 bytes at distance 1"). Its output reaches
// the 16 MiB heap in ~1 MiB pieces, never the host's memory in one piece.
// expect: memory_limit_exceeded
export default async () => {
  const bomb = new Uint8Array(1 << 20);
  bomb.set([99, 24]);
  const period = [5, 163, 96, 20, 140, 130, 81, 48, 10, 70, 193, 40, 24];
  bomb.set(period, 2);
  for (let len = period.length; 2 + len < bomb.length; len *= 2) bomb.copyWithin(2 + len, 2, 2 + len);
  const stream = new DecompressionStream("deflate-raw");
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  writer.write(bomb);
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return total;
    total += value.length;
  }
};
