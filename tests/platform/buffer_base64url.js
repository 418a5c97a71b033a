// Node.js Buffer's base64url encoding (RFC 4648 §5: - and _, no padding),
// as JWT code writes it: encoding, decoding with and without padding,
// byteLength, write, isEncoding, and the bytes that differ from base64.
import { Buffer as B } from "node:buffer";
export default function run() {
  const header = Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT" })).toString("base64url");
  const bytes = Buffer.from([0xfb, 0xff, 0xbf, 0x3e, 0x3f]);
  const written = Buffer.alloc(4);
  return {
    header,
    back: Buffer.from(header, "base64url").toString(),
    bytes: [bytes.toString("base64"), bytes.toString("base64url"), bytes.toString("BASE64URL")],
    decoded: [...Buffer.from("-_-_Pj8", "base64url")],
    padded: [...Buffer.from("-_-_Pj8=", "base64url")],
    slice: bytes.toString("base64url", 1, 3),
    byteLength: [Buffer.byteLength("-_-_Pj8", "base64url"), Buffer.byteLength("aGk", "base64url")],
    write: [written.write("AQID", "base64url"), [...written]],
    isEncoding: [Buffer.isEncoding("base64url"), B.isEncoding("Base64URL")],
    empty: Buffer.alloc(0).toString("base64url"),
  };
}
