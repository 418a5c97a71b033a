//! The native half of `node:crypto`: message digests (MD5, SHA-1, SHA-2),
//! HMAC and a constant-time comparison, with the RustCrypto crates. A native
//! module, `caplet:crypto-native`, that only the `node:` modules can import.
//! Randomness and WebCrypto come from the platform's global `crypto`.

use hmac::{Hmac, Mac};
use rquickjs::module::{Declarations, Exports, ModuleDef};
use rquickjs::{Ctx, Exception, Function, Result, TypedArray};
use sha2::Digest;

/// The native module's name.
pub const MODULE: &str = "caplet:crypto-native";

fn digest(algorithm: &str, data: &[u8]) -> Option<Vec<u8>> {
    Some(match algorithm {
        "md5" => md5::Md5::digest(data).to_vec(),
        "sha1" => sha1::Sha1::digest(data).to_vec(),
        "sha224" => sha2::Sha224::digest(data).to_vec(),
        "sha256" => sha2::Sha256::digest(data).to_vec(),
        "sha384" => sha2::Sha384::digest(data).to_vec(),
        "sha512" => sha2::Sha512::digest(data).to_vec(),
        _ => return None,
    })
}

fn hmac(algorithm: &str, key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
        let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key)
            .expect("HMAC takes a key of any length");
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }
    Some(match algorithm {
        "md5" => run::<Hmac<md5::Md5>>(key, data),
        "sha1" => run::<Hmac<sha1::Sha1>>(key, data),
        "sha224" => run::<Hmac<sha2::Sha224>>(key, data),
        "sha256" => run::<Hmac<sha2::Sha256>>(key, data),
        "sha384" => run::<Hmac<sha2::Sha384>>(key, data),
        "sha512" => run::<Hmac<sha2::Sha512>>(key, data),
        _ => return None,
    })
}

/// A copy of a Uint8Array's bytes (none if its buffer was detached).
fn bytes(array: &TypedArray<'_, u8>) -> Vec<u8> {
    // SAFETY: no JavaScript runs while the slice is read (it is copied at
    // once), so its buffer cannot be detached or resized meanwhile.
    unsafe { array.as_bytes() }
        .map(<[u8]>::to_vec)
        .unwrap_or_default()
}

fn unknown<T>(ctx: &Ctx<'_>, algorithm: &str) -> Result<T> {
    let shown: String = algorithm.chars().take(40).collect();
    Err(Exception::throw_type(
        ctx,
        &format!("digest method not supported: {shown:?}"),
    ))
}

/// `caplet:crypto-native`: `digest(algorithm, bytes)`, `hmac(algorithm,
/// key, bytes)`, `timingSafeEqual(a, b)`.
pub struct CryptoNative;

impl ModuleDef for CryptoNative {
    fn declare<'js>(decl: &Declarations<'js>) -> Result<()> {
        decl.declare("digest")?;
        decl.declare("hmac")?;
        decl.declare("timingSafeEqual")?;
        Ok(())
    }

    fn evaluate<'js>(ctx: &Ctx<'js>, exports: &Exports<'js>) -> Result<()> {
        exports.export(
            "digest",
            Function::new(
                ctx.clone(),
                |ctx: Ctx<'js>, algorithm: String, data: TypedArray<'js, u8>| match digest(
                    &algorithm,
                    &bytes(&data),
                ) {
                    Some(out) => TypedArray::<u8>::new(ctx, out),
                    None => unknown(&ctx, &algorithm),
                },
            )?,
        )?;
        exports.export(
            "hmac",
            Function::new(
                ctx.clone(),
                |ctx: Ctx<'js>,
                 algorithm: String,
                 key: TypedArray<'js, u8>,
                 data: TypedArray<'js, u8>| {
                    match hmac(&algorithm, &bytes(&key), &bytes(&data)) {
                        Some(out) => TypedArray::<u8>::new(ctx, out),
                        None => unknown(&ctx, &algorithm),
                    }
                },
            )?,
        )?;
        exports.export(
            "timingSafeEqual",
            Function::new(
                ctx.clone(),
                |ctx: Ctx<'js>, a: TypedArray<'js, u8>, b: TypedArray<'js, u8>| {
                    use subtle::ConstantTimeEq;
                    let (a, b) = (bytes(&a), bytes(&b));
                    let (a, b) = (a.as_slice(), b.as_slice());
                    if a.len() != b.len() {
                        return Err(Exception::throw_range(
                            &ctx,
                            "input buffers must have the same byte length",
                        ));
                    }
                    Ok(bool::from(a.ct_eq(b)))
                },
            )?,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn digests_and_macs_match_their_standards_vectors() {
        // FIPS 180 and RFC 1321 "abc" vectors; RFC 4231 test case 2.
        assert_eq!(
            hex(&digest("sha256", b"abc").unwrap()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(&digest("sha1", b"abc").unwrap()),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            hex(&digest("md5", b"abc").unwrap()),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            hex(&hmac("sha256", b"Jefe", b"what do ya want for nothing?").unwrap()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(digest("sha3-256", b"").is_none());
        for algorithm in ["md5", "sha1", "sha224", "sha256", "sha384", "sha512"] {
            assert!(digest(algorithm, b"").is_some() && hmac(algorithm, b"k", b"").is_some());
        }
    }
}
