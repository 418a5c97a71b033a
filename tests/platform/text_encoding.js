// WHATWG Encoding: TextEncoder, TextDecoder labels, BOM handling, fatal
// mode and streaming that splits a character across chunks.
export default function run() {
  const enc = new TextEncoder();
  const bytes = (...b) => new Uint8Array(b);
  const labels = ["unicode-1-1-utf-8", " UTF8 ", "ascii", "latin2", "cp1251", "utf-16", "utf-16be",
    "x-mac-cyrillic", "euc-kr", "big5", "gb2312", "gb18030", "iso-2022-jp", "koi8-u", "sjis", "x-user-defined"]
    .map((l) => new TextDecoder(l).encoding);
  // Every encoding of the standard (but replacement) by its name.
  const NAMES = ["UTF-8", "IBM866", "ISO-8859-2", "ISO-8859-3", "ISO-8859-4", "ISO-8859-5", "ISO-8859-6", "ISO-8859-7", "ISO-8859-8", "ISO-8859-8-I", "ISO-8859-10", "ISO-8859-13", "ISO-8859-14", "ISO-8859-15", "ISO-8859-16", "KOI8-R", "KOI8-U", "macintosh", "windows-874", "windows-1250", "windows-1251", "windows-1252", "windows-1253", "windows-1254", "windows-1255", "windows-1256", "windows-1257", "windows-1258", "x-mac-cyrillic", "GBK", "gb18030", "Big5", "EUC-JP", "ISO-2022-JP", "Shift_JIS", "EUC-KR", "UTF-16BE", "UTF-16LE", "x-user-defined"];
  const names = NAMES.filter((n) => new TextDecoder(n).encoding !== n.toLowerCase());
  const refused = ["replacement", "utf-7", "nope", "utf-32"].map((l) => {
    try { new TextDecoder(l); return "accepted"; } catch (e) { return e.name; }
  });

  // A 4-byte character fed one byte at a time, then a 3-byte one split 2+1.
  const emoji = enc.encode("😀€");
  const stream = new TextDecoder();
  let streamed = "";
  for (let i = 0; i < emoji.length; i++) {
    streamed += `[${stream.decode(emoji.subarray(i, i + 1), { stream: true })}]`;
  }
  streamed += `[${stream.decode()}]`;
  // UTF-16LE with a surrogate pair split in the middle.
  const u16 = new TextDecoder("utf-16le");
  const pair = bytes(0x61, 0x00, 0x3d, 0xd8, 0x00, 0xde);
  const split16 = u16.decode(pair.subarray(0, 3), { stream: true }) + "|" + u16.decode(pair.subarray(3));
  // A stream that ends inside a character.
  const cut = new TextDecoder();
  cut.decode(bytes(0xf0, 0x9f), { stream: true });
  const cutEnd = cut.decode();

  const fatal = new TextDecoder("utf-8", { fatal: true });
  const fatalError = (() => { try { fatal.decode(bytes(0x61, 0xc0, 0x80)); } catch (e) { return [e.name, e.message]; } })();
  const fatal16 = (() => { try { new TextDecoder("utf-16le", { fatal: true }).decode(bytes(0x61)); } catch (e) { return e.name; } })();

  const into = new Uint8Array(8);
  const result = enc.encodeInto("a€😀", into.subarray(2));
  return {
    encode: [[...enc.encode("aé€😀")], [...enc.encode("\ud800x")], enc.encode().length, enc.encoding],
    encodeInto: [result.read, result.written, [...into]],
    labels,
    names: [NAMES.length, names],
    refused,
    decode: [
      new TextDecoder("windows-1252").decode(bytes(0x80, 0xe9, 0x9f)),
      new TextDecoder("utf-16be").decode(bytes(0x00, 0x61, 0xd8, 0x3d, 0xde, 0x00)),
      new TextDecoder("shift_jis").decode(bytes(0x82, 0xa0)),
      new TextDecoder("euc-kr").decode(bytes(0xc7, 0xd1)),
      new TextDecoder("utf-8").decode(bytes(0x61, 0xff, 0x62)),
      new TextDecoder("x-user-defined").decode(bytes(0x61, 0x80)).codePointAt(1).toString(16),
    ],
    bom: [
      new TextDecoder().decode(bytes(0xef, 0xbb, 0xbf, 0x61)).length,
      new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes(0xef, 0xbb, 0xbf, 0x61)).length,
      new TextDecoder("utf-16be").decode(bytes(0xfe, 0xff, 0x00, 0x61)),
      new TextDecoder("utf-16le").decode(bytes(0xfe, 0xff, 0x61, 0x00)).length,
      new TextDecoder().decode(bytes(0xff, 0xfe, 0x61)).length,
    ],
    streaming: [streamed, split16, cutEnd === "\ufffd"],
    fatal: [fatal.fatal, fatalError, fatal16, new TextDecoder().ignoreBOM],
    sources: [
      new TextDecoder().decode(new Uint16Array([0x6261]).buffer),
      new TextDecoder().decode(new DataView(bytes(0x61, 0x62, 0x63).buffer, 1)),
      (() => { try { new TextDecoder().decode("abc"); } catch (e) { return e.name; } })(),
    ],
  };
}
