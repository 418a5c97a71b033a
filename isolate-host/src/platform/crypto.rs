//! `crypto` (Web Crypto): `getRandomValues`, `randomUUID` and `subtle`,
//! over `ring` (the primitives) and RustCrypto's `pkcs8`/`sec1`/`pkcs1`
//! (the DER key formats). Randomness is the kernel's, through `getrandom`.
//! The `SubtleCrypto` and `CryptoKey` shapes, algorithm normalisation and
//! promises are JS glue (`js/crypto.js`); key material lives in a native
//! [`KeyMaterial`] object the glue keeps private.
//!
//! What `ring` lacks is refused with a `NotSupportedError`: AES-192, GCM
//! nonces other than 96 bits and tags other than 128 bits, ECDSA with a hash
//! other than the curve's own (P-256 with SHA-256, P-384 with SHA-384), RSA
//! signing and key generation, RSA-PSS with a salt length other than the
//! hash length, and RSA keys under 1024 bits (2048 for SHA-384 and PSS).

use std::num::NonZeroU32;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use pkcs8::der::asn1::{BitStringRef, OctetStringRef};
use pkcs8::der::{Decode, Encode};
use pkcs8::spki::{AlgorithmIdentifierRef, ObjectIdentifier, SubjectPublicKeyInfoRef};
use pkcs8::PrivateKeyInfo;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{self, KeyPair};
use rquickjs::class::{JsClass, Trace, Tracer, Writable};
use rquickjs::{Class, Ctx, Exception, Function, Object, TypedArray, Value};

use super::{glue, LazyGlobal};

/// The globals this module owns: the `crypto` object and the interfaces
/// behind it (which cannot be constructed, as in browsers).
pub const GLOBALS: &[LazyGlobal] = &[
    LazyGlobal {
        name: "crypto",
        build: |ctx| built_part(ctx, "crypto"),
    },
    LazyGlobal {
        name: "Crypto",
        build: |ctx| built_part(ctx, "Crypto"),
    },
    LazyGlobal {
        name: "CryptoKey",
        build: |ctx| built_part(ctx, "CryptoKey"),
    },
    LazyGlobal {
        name: "SubtleCrypto",
        build: |ctx| built_part(ctx, "SubtleCrypto"),
    },
];

/// The longest secret key `generateKey` makes, in bytes.
const MAX_SECRET_BYTES: usize = 4096;

/// The most bytes `getRandomValues` fills at once (Web Crypto's quota).
const RANDOM_QUOTA: usize = 65536;

const OID_EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// One of the values `js/crypto.js`'s `install` returns (built once per
/// context, whichever of them a worker touches first).
fn built_part<'js>(ctx: &Ctx<'js>, name: &str) -> rquickjs::Result<Value<'js>> {
    glue::built(ctx, "crypto", "crypto:object", natives)?.get(name)
}

fn natives<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
    let native = glue::native(ctx)?;
    native.set(
        "getRandomValues",
        Function::new(ctx.clone(), get_random_values)?,
    )?;
    native.set("randomUUID", Function::new(ctx.clone(), random_uuid)?)?;
    native.set("digest", Function::new(ctx.clone(), digest)?)?;
    native.set("importKey", Function::new(ctx.clone(), import_key)?)?;
    native.set("exportKey", Function::new(ctx.clone(), export_key)?)?;
    native.set("keyInfo", Function::new(ctx.clone(), key_info)?)?;
    native.set("generateKey", Function::new(ctx.clone(), generate_key)?)?;
    native.set("sign", Function::new(ctx.clone(), sign)?)?;
    native.set("verify", Function::new(ctx.clone(), verify)?)?;
    native.set("aesGcm", Function::new(ctx.clone(), aes_gcm)?)?;
    native.set("pbkdf2", Function::new(ctx.clone(), pbkdf2)?)?;
    native.set("hkdf", Function::new(ctx.clone(), hkdf)?)?;
    Ok(native)
}

/// A failed operation: the `DOMException` name and a message.
#[derive(Debug, PartialEq, Eq)]
struct Failure {
    name: &'static str,
    message: String,
}

type Outcome<T> = Result<T, Failure>;

fn data_error(message: impl Into<String>) -> Failure {
    Failure {
        name: "DataError",
        message: message.into(),
    }
}

fn not_supported(message: impl Into<String>) -> Failure {
    Failure {
        name: "NotSupportedError",
        message: message.into(),
    }
}

fn operation_error(message: impl Into<String>) -> Failure {
    Failure {
        name: "OperationError",
        message: message.into(),
    }
}

fn invalid_access(message: impl Into<String>) -> Failure {
    Failure {
        name: "InvalidAccessError",
        message: message.into(),
    }
}

/// Throws `failure` as a `DOMException`.
fn throw(ctx: &Ctx<'_>, failure: Failure) -> rquickjs::Error {
    glue::throw_dom(ctx, failure.name, &failure.message)
}

/// Runs `f` over the bytes of `array`, throwing its failure.
fn over<'js, R>(
    ctx: &Ctx<'js>,
    array: &TypedArray<'js, u8>,
    f: impl FnOnce(&[u8]) -> Outcome<R>,
) -> rquickjs::Result<R> {
    glue::with_bytes(ctx, array, f)?.map_err(|failure| throw(ctx, failure))
}

/// Copies the bytes of `array`.
fn copy<'js>(ctx: &Ctx<'js>, array: &TypedArray<'js, u8>) -> rquickjs::Result<Vec<u8>> {
    glue::with_bytes(ctx, array, <[u8]>::to_vec)
}

fn random() -> &'static SystemRandom {
    static RANDOM: std::sync::OnceLock<SystemRandom> = std::sync::OnceLock::new();
    RANDOM.get_or_init(SystemRandom::new)
}

fn fill_random(out: &mut [u8]) -> Outcome<()> {
    random()
        .fill(out)
        .map_err(|_| operation_error("the kernel's random source failed"))
}

/// `getRandomValues(bytes)`: fills a view (the glue passes a `Uint8Array`
/// over any integer typed array) from the kernel.
fn get_random_values<'js>(ctx: Ctx<'js>, view: TypedArray<'js, u8>) -> rquickjs::Result<()> {
    let Some(raw) = view.as_raw() else {
        return Err(Exception::throw_type(&ctx, "the buffer is detached"));
    };
    // SAFETY: `raw` points to the live bytes of `view`; no JavaScript runs
    // while this slice exists.
    let out = unsafe { &mut *raw.as_ptr() };
    if out.len() > RANDOM_QUOTA {
        return Err(glue::throw_dom(
            &ctx,
            "QuotaExceededError",
            &format!(
                "getRandomValues fills at most {RANDOM_QUOTA} bytes, asked for {}",
                out.len()
            ),
        ));
    }
    fill_random(out).map_err(|f| throw(&ctx, f))
}

/// `randomUUID()`: a version 4 UUID from the kernel's randomness.
fn random_uuid(ctx: Ctx<'_>) -> rquickjs::Result<String> {
    let mut b = [0u8; 16];
    fill_random(&mut b).map_err(|f| throw(&ctx, f))?;
    Ok(format_uuid(b))
}

/// Formats 16 random bytes as a version 4, variant 10 UUID.
fn format_uuid(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A hash named by Web Crypto.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn parse(name: &str) -> Outcome<Self> {
        match name {
            "SHA-1" => Ok(Hash::Sha1),
            "SHA-256" => Ok(Hash::Sha256),
            "SHA-384" => Ok(Hash::Sha384),
            "SHA-512" => Ok(Hash::Sha512),
            other => Err(not_supported(format!("the hash {other} is not supported"))),
        }
    }

    fn digest(self) -> &'static ring::digest::Algorithm {
        match self {
            Hash::Sha1 => &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            Hash::Sha256 => &ring::digest::SHA256,
            Hash::Sha384 => &ring::digest::SHA384,
            Hash::Sha512 => &ring::digest::SHA512,
        }
    }

    fn hmac(self) -> ring::hmac::Algorithm {
        match self {
            Hash::Sha1 => ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Hash::Sha256 => ring::hmac::HMAC_SHA256,
            Hash::Sha384 => ring::hmac::HMAC_SHA384,
            Hash::Sha512 => ring::hmac::HMAC_SHA512,
        }
    }

    fn pbkdf2(self) -> ring::pbkdf2::Algorithm {
        match self {
            Hash::Sha1 => ring::pbkdf2::PBKDF2_HMAC_SHA1,
            Hash::Sha256 => ring::pbkdf2::PBKDF2_HMAC_SHA256,
            Hash::Sha384 => ring::pbkdf2::PBKDF2_HMAC_SHA384,
            Hash::Sha512 => ring::pbkdf2::PBKDF2_HMAC_SHA512,
        }
    }

    fn hkdf(self) -> ring::hkdf::Algorithm {
        match self {
            Hash::Sha1 => ring::hkdf::HKDF_SHA1_FOR_LEGACY_USE_ONLY,
            Hash::Sha256 => ring::hkdf::HKDF_SHA256,
            Hash::Sha384 => ring::hkdf::HKDF_SHA384,
            Hash::Sha512 => ring::hkdf::HKDF_SHA512,
        }
    }

    /// The digest length in bytes.
    fn len(self) -> usize {
        self.digest().output_len()
    }
}

/// `digest(hash, data)`: the digest as an `ArrayBuffer`.
fn digest<'js>(
    ctx: Ctx<'js>,
    hash: String,
    data: TypedArray<'js, u8>,
) -> rquickjs::Result<Value<'js>> {
    let out = over(&ctx, &data, |bytes| {
        Ok(ring::digest::digest(Hash::parse(&hash)?.digest(), bytes))
    })?;
    glue::array_buffer(&ctx, out.as_ref())
}

/// An elliptic curve of ECDSA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
}

impl Curve {
    fn parse(name: &str) -> Outcome<Self> {
        match name {
            "P-256" => Ok(Curve::P256),
            "P-384" => Ok(Curve::P384),
            other => Err(not_supported(format!("the curve {other} is not supported"))),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
        }
    }

    fn from_oid(oid: ObjectIdentifier) -> Outcome<Self> {
        match oid {
            o if o == OID_P256 => Ok(Curve::P256),
            o if o == OID_P384 => Ok(Curve::P384),
            other => Err(not_supported(format!("the curve {other} is not supported"))),
        }
    }

    /// The length of a coordinate (and of a private scalar) in bytes.
    fn size(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
        }
    }

    fn signing(self) -> &'static signature::EcdsaSigningAlgorithm {
        match self {
            Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        }
    }

    fn verification(self) -> &'static signature::EcdsaVerificationAlgorithm {
        match self {
            Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED,
            Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED,
        }
    }

    /// The one hash `ring` pairs with this curve.
    fn hash(self) -> Hash {
        match self {
            Curve::P256 => Hash::Sha256,
            Curve::P384 => Hash::Sha384,
        }
    }
}

/// The key material behind a `CryptoKey`.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Material {
    /// HMAC, AES, PBKDF2 and HKDF keys.
    Secret(Vec<u8>),
    /// An ECDSA private key: the scalar and the uncompressed public point.
    EcPrivate {
        curve: Curve,
        d: Vec<u8>,
        public: Vec<u8>,
    },
    /// An ECDSA public key: the uncompressed point.
    EcPublic { curve: Curve, public: Vec<u8> },
    /// An Ed25519 private key: the seed and the public key.
    EdPrivate { seed: Vec<u8>, public: Vec<u8> },
    /// An Ed25519 public key.
    EdPublic { public: Vec<u8> },
    /// An RSA public key: modulus and exponent, big-endian, unpadded.
    RsaPublic { n: Vec<u8>, e: Vec<u8> },
}

/// A `CryptoKey`'s material, as a JS object only the glue holds. It is
/// never borrowed mutably, so its shared borrows cannot conflict.
pub struct KeyMaterial(Material);

impl<'js> Trace<'js> for KeyMaterial {
    fn trace<'a>(&self, _tracer: Tracer<'a, 'js>) {}
}

// SAFETY: `KeyMaterial` holds no JS values.
unsafe impl<'js> rquickjs::JsLifetime<'js> for KeyMaterial {
    type Changed<'to> = KeyMaterial;
}

impl<'js> JsClass<'js> for KeyMaterial {
    const NAME: &'static str = "CryptoKeyMaterial";
    type Mutable = Writable;

    fn constructor(_ctx: &Ctx<'js>) -> rquickjs::Result<Option<rquickjs::Constructor<'js>>> {
        Ok(None)
    }
}

fn handle<'js>(ctx: &Ctx<'js>, material: Material) -> rquickjs::Result<Class<'js, KeyMaterial>> {
    Class::instance(ctx.clone(), KeyMaterial(material))
}

/// Builds an ECDSA private key from its scalar, checking it against
/// `public` when given (otherwise `ring` cannot derive the point, and the
/// key is refused).
fn ec_private(curve: Curve, d: &[u8], public: Option<&[u8]>) -> Outcome<Material> {
    let Some(public) = public else {
        return Err(not_supported(
            "an ecdsa private key without its public key is not supported",
        ));
    };
    if d.len() != curve.size() {
        return Err(data_error(format!(
            "a {} private key is {} bytes, got {}",
            curve.name(),
            curve.size(),
            d.len()
        )));
    }
    signature::EcdsaKeyPair::from_private_key_and_public_key(curve.signing(), d, public, random())
        .map_err(|e| data_error(format!("the ecdsa key is invalid: {e}")))?;
    Ok(Material::EcPrivate {
        curve,
        d: d.to_vec(),
        public: public.to_vec(),
    })
}

fn ec_public(curve: Curve, public: &[u8]) -> Outcome<Material> {
    if public.len() != 1 + 2 * curve.size() || public[0] != 4 {
        return Err(data_error(format!(
            "a {} public key must be an uncompressed point of {} bytes",
            curve.name(),
            1 + 2 * curve.size()
        )));
    }
    Ok(Material::EcPublic {
        curve,
        public: public.to_vec(),
    })
}

fn ed_private(seed: &[u8], public: Option<&[u8]>) -> Outcome<Material> {
    let pair = match public {
        Some(public) => signature::Ed25519KeyPair::from_seed_and_public_key(seed, public),
        None => signature::Ed25519KeyPair::from_seed_unchecked(seed),
    }
    .map_err(|e| data_error(format!("the ed25519 key is invalid: {e}")))?;
    Ok(Material::EdPrivate {
        seed: seed.to_vec(),
        public: pair.public_key().as_ref().to_vec(),
    })
}

fn ed_public(public: &[u8]) -> Outcome<Material> {
    if public.len() != 32 {
        return Err(data_error(format!(
            "an ed25519 public key is 32 bytes, got {}",
            public.len()
        )));
    }
    Ok(Material::EdPublic {
        public: public.to_vec(),
    })
}

/// Strips the leading zeros of a big-endian integer.
fn unpadded(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes[start..].to_vec()
}

fn rsa_public(n: &[u8], e: &[u8]) -> Outcome<Material> {
    let (n, e) = (unpadded(n), unpadded(e));
    if n.is_empty() || e.is_empty() {
        return Err(data_error("an rsa key needs a modulus and an exponent"));
    }
    Ok(Material::RsaPublic { n, e })
}

/// The kinds of key the glue asks for.
fn check_kind(kind: &str, material: &Material) -> Outcome<()> {
    let fits = match kind {
        "secret" => matches!(material, Material::Secret(_)),
        "EC" => matches!(
            material,
            Material::EcPrivate { .. } | Material::EcPublic { .. }
        ),
        "Ed25519" => matches!(
            material,
            Material::EdPrivate { .. } | Material::EdPublic { .. }
        ),
        "RSA" => matches!(material, Material::RsaPublic { .. }),
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        Err(data_error(format!("the key data is not a {kind} key")))
    }
}

/// Imports raw, SPKI or PKCS #8 bytes.
fn import_bytes(format: &str, kind: &str, curve: Option<&str>, data: &[u8]) -> Outcome<Material> {
    let material = match (format, kind) {
        ("raw", "secret") => Material::Secret(data.to_vec()),
        ("raw", "EC") => ec_public(Curve::parse(curve.unwrap_or_default())?, data)?,
        ("raw", "Ed25519") => ed_public(data)?,
        ("spki", _) => import_spki(data)?,
        ("pkcs8", _) => import_pkcs8(data)?,
        (format, kind) => {
            return Err(not_supported(format!(
                "importing a {kind} key as {format} is not supported"
            )))
        }
    };
    check_kind(kind, &material)?;
    if let (
        Some(curve),
        Material::EcPrivate { curve: got, .. } | Material::EcPublic { curve: got, .. },
    ) = (curve, &material)
    {
        if Curve::parse(curve)? != *got {
            return Err(data_error(format!(
                "the key is on {}, not {curve}",
                got.name()
            )));
        }
    }
    Ok(material)
}

fn import_spki(data: &[u8]) -> Outcome<Material> {
    let info = SubjectPublicKeyInfoRef::from_der(data)
        .map_err(|e| data_error(format!("the spki is not valid der: {e}")))?;
    let key = info
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| data_error("the spki key has unused bits"))?;
    let oid = info.algorithm.oid;
    if oid == OID_EC {
        let curve = info
            .algorithm
            .parameters_oid()
            .map_err(|_| data_error("the ec spki names no curve"))?;
        ec_public(Curve::from_oid(curve)?, key)
    } else if oid == OID_ED25519 {
        ed_public(key)
    } else if oid == OID_RSA {
        let rsa = pkcs1::RsaPublicKey::from_der(key)
            .map_err(|e| data_error(format!("the rsa public key is not valid der: {e}")))?;
        rsa_public(rsa.modulus.as_bytes(), rsa.public_exponent.as_bytes())
    } else {
        Err(not_supported(format!(
            "spki keys of {oid} are not supported"
        )))
    }
}

fn import_pkcs8(data: &[u8]) -> Outcome<Material> {
    let info = PrivateKeyInfo::from_der(data)
        .map_err(|e| data_error(format!("the pkcs8 is not valid der: {e}")))?;
    let oid = info.algorithm.oid;
    if oid == OID_EC {
        let inner = sec1::EcPrivateKey::from_der(info.private_key)
            .map_err(|e| data_error(format!("the ec private key is not valid der: {e}")))?;
        let named = info
            .algorithm
            .parameters_oid()
            .ok()
            .or_else(|| inner.parameters.and_then(|p| p.named_curve()))
            .ok_or_else(|| data_error("the ec pkcs8 names no curve"))?;
        ec_private(Curve::from_oid(named)?, inner.private_key, inner.public_key)
    } else if oid == OID_ED25519 {
        let seed = OctetStringRef::from_der(info.private_key)
            .map_err(|e| data_error(format!("the ed25519 private key is not valid der: {e}")))?;
        let public = info.public_key;
        ed_private(seed.as_bytes(), public)
    } else if oid == OID_RSA {
        Err(not_supported(
            "rsa private keys are not supported (only verification)",
        ))
    } else {
        Err(not_supported(format!(
            "pkcs8 keys of {oid} are not supported"
        )))
    }
}

/// Reads a base64url member of a JWK.
fn jwk_bytes(jwk: &Object<'_>, member: &str) -> Outcome<Option<Vec<u8>>> {
    let value: Option<String> = jwk
        .get(member)
        .map_err(|_| data_error(format!("the jwk member {member} is not a string")))?;
    value
        .map(|text| {
            URL_SAFE_NO_PAD
                .decode(text.trim_end_matches('='))
                .map_err(|_| data_error(format!("the jwk member {member} is not base64url")))
        })
        .transpose()
}

fn jwk_required(jwk: &Object<'_>, member: &str) -> Outcome<Vec<u8>> {
    jwk_bytes(jwk, member)?.ok_or_else(|| data_error(format!("the jwk has no {member}")))
}

fn jwk_string(jwk: &Object<'_>, member: &str) -> Outcome<String> {
    let value: Option<String> = jwk
        .get(member)
        .map_err(|_| data_error(format!("the jwk member {member} is not a string")))?;
    value.ok_or_else(|| data_error(format!("the jwk has no {member}")))
}

fn import_jwk(kind: &str, curve: Option<&str>, jwk: &Object<'_>) -> Outcome<Material> {
    let kty = jwk_string(jwk, "kty")?;
    let material = match (kind, kty.as_str()) {
        ("secret", "oct") => Material::Secret(jwk_required(jwk, "k")?),
        ("EC", "EC") => {
            let crv = jwk_string(jwk, "crv")?;
            let curve_named = Curve::parse(&crv)?;
            if let Some(curve) = curve {
                if curve != crv {
                    return Err(data_error(format!("the jwk is on {crv}, not {curve}")));
                }
            }
            let (x, y) = (jwk_required(jwk, "x")?, jwk_required(jwk, "y")?);
            if x.len() != curve_named.size() || y.len() != curve_named.size() {
                return Err(data_error("the jwk coordinates have the wrong length"));
            }
            let mut public = vec![4u8];
            public.extend_from_slice(&x);
            public.extend_from_slice(&y);
            match jwk_bytes(jwk, "d")? {
                Some(d) => ec_private(curve_named, &d, Some(&public))?,
                None => ec_public(curve_named, &public)?,
            }
        }
        ("Ed25519", "OKP") => {
            let crv = jwk_string(jwk, "crv")?;
            if crv != "Ed25519" {
                return Err(data_error(format!("the jwk curve {crv} is not Ed25519")));
            }
            let x = jwk_required(jwk, "x")?;
            match jwk_bytes(jwk, "d")? {
                Some(d) => ed_private(&d, Some(&x))?,
                None => ed_public(&x)?,
            }
        }
        ("RSA", "RSA") => {
            if jwk_bytes(jwk, "d")?.is_some() {
                return Err(not_supported(
                    "rsa private keys are not supported (only verification)",
                ));
            }
            rsa_public(&jwk_required(jwk, "n")?, &jwk_required(jwk, "e")?)?
        }
        (kind, kty) => {
            return Err(data_error(format!(
                "a jwk of kty {kty} is not a {kind} key"
            )))
        }
    };
    Ok(material)
}

/// `importKey(format, kind, curve, data)`: key material from raw, SPKI,
/// PKCS #8 bytes (a `Uint8Array`) or a JWK (an object).
fn import_key<'js>(
    ctx: Ctx<'js>,
    format: String,
    kind: String,
    curve: Option<String>,
    data: Value<'js>,
) -> rquickjs::Result<Class<'js, KeyMaterial>> {
    let material = if format == "jwk" {
        let Some(jwk) = data.as_object() else {
            return Err(Exception::throw_type(&ctx, "a jwk must be an object"));
        };
        import_jwk(&kind, curve.as_deref(), jwk).map_err(|f| throw(&ctx, f))?
    } else {
        let bytes = TypedArray::<u8>::from_value(data)?;
        over(&ctx, &bytes, |bytes| {
            import_bytes(&format, &kind, curve.as_deref(), bytes)
        })?
    };
    handle(&ctx, material)
}

/// `keyInfo(key)`: `[type, bits, curve, publicExponent]`: `"secret"`, `"public"` or
/// `"private"`; the length of a secret or an RSA modulus in bits; the
/// named curve of an ECDSA key; an RSA key's public exponent (a `Uint8Array`).
fn key_info<'js>(
    ctx: Ctx<'js>,
    key: Class<'js, KeyMaterial>,
) -> rquickjs::Result<rquickjs::Array<'js>> {
    let (kind, bits, curve, exponent) = match &key.borrow().0 {
        Material::Secret(bytes) => ("secret", bytes.len() * 8, None, None),
        Material::EcPrivate { curve, .. } => ("private", 0, Some(curve.name()), None),
        Material::EcPublic { curve, .. } => ("public", 0, Some(curve.name()), None),
        Material::EdPrivate { .. } => ("private", 0, None, None),
        Material::EdPublic { .. } => ("public", 0, None, None),
        Material::RsaPublic { n, e } => {
            let bits = n.len() * 8 - n.first().map_or(0, |b| b.leading_zeros() as usize);
            // Big-endian, without the leading zeros a DER integer may have.
            let start = e.iter().position(|&b| b != 0).unwrap_or(e.len());
            ("public", bits, None, Some(e[start..].to_vec()))
        }
    };
    let info = rquickjs::Array::new(ctx.clone())?;
    info.set(0, kind)?;
    info.set(1, bits)?;
    info.set(2, curve)?;
    if let Some(exponent) = exponent {
        info.set(3, TypedArray::<u8>::new(ctx, exponent)?)?;
    }
    Ok(info)
}

fn der<T: Encode>(value: &T) -> Outcome<Vec<u8>> {
    value
        .to_der()
        .map_err(|e| operation_error(format!("the key could not be encoded: {e}")))
}

fn spki_of(algorithm: AlgorithmIdentifierRef<'_>, key: &[u8]) -> Outcome<Vec<u8>> {
    let info = SubjectPublicKeyInfoRef {
        algorithm,
        subject_public_key: BitStringRef::from_bytes(key)
            .map_err(|e| operation_error(format!("the key could not be encoded: {e}")))?,
    };
    der(&info)
}

/// Exports as raw, SPKI or PKCS #8 bytes.
fn export_bytes(format: &str, material: &Material) -> Outcome<Vec<u8>> {
    let ec_algorithm = |curve: Curve| AlgorithmIdentifierRef {
        oid: OID_EC,
        parameters: Some(pkcs8::der::AnyRef::from(curve.oid_ref())),
    };
    let ed_algorithm = AlgorithmIdentifierRef {
        oid: OID_ED25519,
        parameters: None,
    };
    match (format, material) {
        ("raw", Material::Secret(bytes)) => Ok(bytes.clone()),
        ("raw", Material::EcPublic { public, .. }) => Ok(public.clone()),
        ("raw", Material::EdPublic { public }) => Ok(public.clone()),
        ("spki", Material::EcPublic { curve, public }) => spki_of(ec_algorithm(*curve), public),
        ("spki", Material::EdPublic { public }) => spki_of(ed_algorithm, public),
        ("spki", Material::RsaPublic { n, e }) => {
            let key = pkcs1::RsaPublicKey {
                modulus: pkcs1::UintRef::new(n)
                    .map_err(|e| operation_error(format!("the key could not be encoded: {e}")))?,
                public_exponent: pkcs1::UintRef::new(e)
                    .map_err(|e| operation_error(format!("the key could not be encoded: {e}")))?,
            };
            let rsa_algorithm = AlgorithmIdentifierRef {
                oid: OID_RSA,
                parameters: Some(pkcs8::der::asn1::AnyRef::NULL),
            };
            spki_of(rsa_algorithm, &der(&key)?)
        }
        ("pkcs8", Material::EcPrivate { curve, d, public }) => {
            let inner = sec1::EcPrivateKey {
                private_key: d,
                parameters: None,
                public_key: Some(public),
            };
            let inner = der(&inner)?;
            der(&PrivateKeyInfo::new(ec_algorithm(*curve), &inner))
        }
        ("pkcs8", Material::EdPrivate { seed, .. }) => {
            let inner = OctetStringRef::new(seed)
                .map_err(|e| operation_error(format!("the key could not be encoded: {e}")))?;
            let inner = der(&inner)?;
            der(&PrivateKeyInfo::new(ed_algorithm, &inner))
        }
        (format, _) => Err(invalid_access(format!(
            "this key cannot be exported as {format}"
        ))),
    }
}

impl Curve {
    fn oid_ref(self) -> &'static ObjectIdentifier {
        match self {
            Curve::P256 => &OID_P256,
            Curve::P384 => &OID_P384,
        }
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Exports as a JWK (without `alg`, `key_ops` and `ext`, which the glue
/// adds).
fn export_jwk<'js>(ctx: &Ctx<'js>, material: &Material) -> rquickjs::Result<Object<'js>> {
    let jwk = Object::new(ctx.clone())?;
    match material {
        Material::Secret(k) => {
            jwk.set("kty", "oct")?;
            jwk.set("k", b64(k))?;
        }
        Material::EcPrivate { curve, public, .. } | Material::EcPublic { curve, public } => {
            let size = curve.size();
            jwk.set("kty", "EC")?;
            jwk.set("crv", curve.name())?;
            jwk.set("x", b64(&public[1..1 + size]))?;
            jwk.set("y", b64(&public[1 + size..]))?;
            if let Material::EcPrivate { d, .. } = material {
                jwk.set("d", b64(d))?;
            }
        }
        Material::EdPrivate { public, .. } | Material::EdPublic { public } => {
            jwk.set("kty", "OKP")?;
            jwk.set("crv", "Ed25519")?;
            jwk.set("x", b64(public))?;
            if let Material::EdPrivate { seed, .. } = material {
                jwk.set("d", b64(seed))?;
            }
        }
        Material::RsaPublic { n, e } => {
            jwk.set("kty", "RSA")?;
            jwk.set("n", b64(n))?;
            jwk.set("e", b64(e))?;
        }
    }
    Ok(jwk)
}

/// `exportKey(format, key)`: bytes (raw, spki, pkcs8) or a JWK object.
fn export_key<'js>(
    ctx: Ctx<'js>,
    format: String,
    key: Class<'js, KeyMaterial>,
) -> rquickjs::Result<Value<'js>> {
    let material = key.borrow().0.clone();
    if format == "jwk" {
        return Ok(export_jwk(&ctx, &material)?.into_value());
    }
    let bytes = export_bytes(&format, &material).map_err(|f| throw(&ctx, f))?;
    glue::array_buffer(&ctx, &bytes)
}

/// `generateKey(kind, param)`: a secret of `param` bytes, or an ECDSA
/// (`param` the curve) or Ed25519 pair as `[private, public]`.
fn generate_key<'js>(
    ctx: Ctx<'js>,
    kind: String,
    param: Value<'js>,
) -> rquickjs::Result<Value<'js>> {
    let fail = |f| throw(&ctx, f);
    match kind.as_str() {
        "secret" => {
            let len: usize = param.get()?;
            if len > MAX_SECRET_BYTES {
                return Err(fail(operation_error(format!(
                    "a generated secret key is at most {} bits",
                    MAX_SECRET_BYTES * 8
                ))));
            }
            let mut bytes = vec![0u8; len];
            fill_random(&mut bytes).map_err(fail)?;
            Ok(handle(&ctx, Material::Secret(bytes))?.into_value())
        }
        "EC" | "Ed25519" => {
            let private = if kind == "EC" {
                let curve = Curve::parse(&param.get::<String>()?).map_err(fail)?;
                let pkcs8 = signature::EcdsaKeyPair::generate_pkcs8(curve.signing(), random())
                    .map_err(|_| fail(operation_error("ecdsa key generation failed")))?;
                import_pkcs8(pkcs8.as_ref()).map_err(fail)?
            } else {
                let pkcs8 = signature::Ed25519KeyPair::generate_pkcs8(random())
                    .map_err(|_| fail(operation_error("ed25519 key generation failed")))?;
                import_pkcs8(pkcs8.as_ref()).map_err(fail)?
            };
            let public = match &private {
                Material::EcPrivate { curve, public, .. } => Material::EcPublic {
                    curve: *curve,
                    public: public.clone(),
                },
                Material::EdPrivate { public, .. } => Material::EdPublic {
                    public: public.clone(),
                },
                _ => return Err(fail(operation_error("key generation made no key pair"))),
            };
            let pair = rquickjs::Array::new(ctx.clone())?;
            pair.set(0, handle(&ctx, private)?)?;
            pair.set(1, handle(&ctx, public)?)?;
            Ok(pair.into_value())
        }
        other => Err(fail(not_supported(format!(
            "generating {other} keys is not supported"
        )))),
    }
}

/// Signs `data` with `algorithm` ("HMAC", "ECDSA", "Ed25519").
fn sign_bytes(algorithm: &str, hash: &str, material: &Material, data: &[u8]) -> Outcome<Vec<u8>> {
    match (algorithm, material) {
        ("HMAC", Material::Secret(secret)) => {
            let key = ring::hmac::Key::new(Hash::parse(hash)?.hmac(), secret);
            Ok(ring::hmac::sign(&key, data).as_ref().to_vec())
        }
        ("ECDSA", Material::EcPrivate { curve, d, public }) => {
            if Hash::parse(hash)? != curve.hash() {
                return Err(not_supported(format!(
                    "ecdsa on {} signs with {} only",
                    curve.name(),
                    hash_name(curve.hash())
                )));
            }
            let pair = signature::EcdsaKeyPair::from_private_key_and_public_key(
                curve.signing(),
                d,
                public,
                random(),
            )
            .map_err(|e| operation_error(format!("the ecdsa key is invalid: {e}")))?;
            let signature = pair
                .sign(random(), data)
                .map_err(|_| operation_error("ecdsa signing failed"))?;
            Ok(signature.as_ref().to_vec())
        }
        ("Ed25519", Material::EdPrivate { seed, public }) => {
            let pair = signature::Ed25519KeyPair::from_seed_and_public_key(seed, public)
                .map_err(|e| operation_error(format!("the ed25519 key is invalid: {e}")))?;
            Ok(pair.sign(data).as_ref().to_vec())
        }
        (algorithm, _) => Err(invalid_access(format!(
            "this key cannot sign with {algorithm}"
        ))),
    }
}

fn hash_name(hash: Hash) -> &'static str {
    match hash {
        Hash::Sha1 => "SHA-1",
        Hash::Sha256 => "SHA-256",
        Hash::Sha384 => "SHA-384",
        Hash::Sha512 => "SHA-512",
    }
}

/// The `ring` parameters of an RSA verification.
fn rsa_parameters(
    algorithm: &str,
    hash: Hash,
    salt_length: Option<usize>,
) -> Outcome<&'static signature::RsaParameters> {
    if algorithm == "RSA-PSS" {
        if salt_length != Some(hash.len()) {
            return Err(not_supported(format!(
                "rsa-pss with {} verifies a salt length of {} only",
                hash_name(hash),
                hash.len()
            )));
        }
        return match hash {
            Hash::Sha256 => Ok(&signature::RSA_PSS_2048_8192_SHA256),
            Hash::Sha384 => Ok(&signature::RSA_PSS_2048_8192_SHA384),
            Hash::Sha512 => Ok(&signature::RSA_PSS_2048_8192_SHA512),
            Hash::Sha1 => Err(not_supported("rsa-pss with SHA-1 is not supported")),
        };
    }
    Ok(match hash {
        Hash::Sha1 => &signature::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
        Hash::Sha256 => &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
        Hash::Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Hash::Sha512 => &signature::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY,
    })
}

/// Verifies `sig` over `data`; a wrong signature is `Ok(false)`.
fn verify_bytes(
    algorithm: &str,
    hash: &str,
    salt_length: Option<usize>,
    material: &Material,
    sig: &[u8],
    data: &[u8],
) -> Outcome<bool> {
    match (algorithm, material) {
        ("HMAC", Material::Secret(secret)) => {
            let key = ring::hmac::Key::new(Hash::parse(hash)?.hmac(), secret);
            Ok(ring::hmac::verify(&key, data, sig).is_ok())
        }
        (
            "ECDSA",
            Material::EcPublic { curve, public } | Material::EcPrivate { curve, public, .. },
        ) => {
            if Hash::parse(hash)? != curve.hash() {
                return Err(not_supported(format!(
                    "ecdsa on {} verifies with {} only",
                    curve.name(),
                    hash_name(curve.hash())
                )));
            }
            let key = signature::UnparsedPublicKey::new(curve.verification(), public);
            Ok(key.verify(data, sig).is_ok())
        }
        ("Ed25519", Material::EdPublic { public } | Material::EdPrivate { public, .. }) => {
            let key = signature::UnparsedPublicKey::new(&signature::ED25519, public);
            Ok(key.verify(data, sig).is_ok())
        }
        ("RSASSA-PKCS1-v1_5" | "RSA-PSS", Material::RsaPublic { n, e }) => {
            let parameters = rsa_parameters(algorithm, Hash::parse(hash)?, salt_length)?;
            let key = signature::RsaPublicKeyComponents { n, e };
            Ok(key.verify(parameters, data, sig).is_ok())
        }
        (algorithm, _) => Err(invalid_access(format!(
            "this key cannot verify with {algorithm}"
        ))),
    }
}

/// `sign(algorithm, hash, key, data)`: the signature as an `ArrayBuffer`.
fn sign<'js>(
    ctx: Ctx<'js>,
    algorithm: String,
    hash: String,
    key: Class<'js, KeyMaterial>,
    data: TypedArray<'js, u8>,
) -> rquickjs::Result<Value<'js>> {
    let out = over(&ctx, &data, |bytes| {
        sign_bytes(&algorithm, &hash, &key.borrow().0, bytes)
    })?;
    glue::array_buffer(&ctx, &out)
}

/// `verify(algorithm, hash, saltLength, key, signature, data)`.
fn verify<'js>(
    ctx: Ctx<'js>,
    algorithm: String,
    hash: String,
    salt_length: Option<usize>,
    key: Class<'js, KeyMaterial>,
    sig: TypedArray<'js, u8>,
    data: TypedArray<'js, u8>,
) -> rquickjs::Result<bool> {
    let sig = copy(&ctx, &sig)?;
    over(&ctx, &data, |bytes| {
        verify_bytes(&algorithm, &hash, salt_length, &key.borrow().0, &sig, bytes)
    })
}

/// AES-GCM seal (`encrypt`) or open of `data`.
fn aes_gcm_bytes(
    encrypt: bool,
    secret: &[u8],
    iv: &[u8],
    aad: &[u8],
    tag_bits: usize,
    data: &[u8],
) -> Outcome<Vec<u8>> {
    use ring::aead;
    let algorithm = match secret.len() {
        16 => &aead::AES_128_GCM,
        32 => &aead::AES_256_GCM,
        24 => return Err(not_supported("aes-192 is not supported")),
        n => return Err(data_error(format!("an aes key is 16 or 32 bytes, got {n}"))),
    };
    if tag_bits != 128 {
        return Err(not_supported(format!(
            "aes-gcm supports a tag length of 128 bits only, got {tag_bits}"
        )));
    }
    let nonce = aead::Nonce::try_assume_unique_for_key(iv).map_err(|_| {
        not_supported(format!(
            "aes-gcm supports a 12-byte iv only, got {} bytes",
            iv.len()
        ))
    })?;
    let key = aead::LessSafeKey::new(
        aead::UnboundKey::new(algorithm, secret)
            .map_err(|_| data_error("the aes key is invalid"))?,
    );
    let mut buffer = Vec::new();
    buffer
        .try_reserve(data.len() + algorithm.tag_len())
        .map_err(|_| operation_error("the input is too large"))?;
    buffer.extend_from_slice(data);
    if encrypt {
        key.seal_in_place_append_tag(nonce, aead::Aad::from(aad), &mut buffer)
            .map_err(|_| operation_error("aes-gcm encryption failed"))?;
        Ok(buffer)
    } else {
        let len = key
            .open_in_place(nonce, aead::Aad::from(aad), &mut buffer)
            .map_err(|_| operation_error("aes-gcm decryption failed: the data or key is wrong"))?
            .len();
        buffer.truncate(len);
        Ok(buffer)
    }
}

/// `aesGcm(encrypt, key, iv, additionalData, tagLength, data)`.
#[allow(clippy::too_many_arguments)]
fn aes_gcm<'js>(
    ctx: Ctx<'js>,
    encrypt: bool,
    key: Class<'js, KeyMaterial>,
    iv: TypedArray<'js, u8>,
    aad: TypedArray<'js, u8>,
    tag_bits: usize,
    data: TypedArray<'js, u8>,
) -> rquickjs::Result<Value<'js>> {
    let (iv, aad) = (copy(&ctx, &iv)?, copy(&ctx, &aad)?);
    let out = over(&ctx, &data, |bytes| match &key.borrow().0 {
        Material::Secret(secret) => aes_gcm_bytes(encrypt, secret, &iv, &aad, tag_bits, bytes),
        _ => Err(invalid_access("aes-gcm needs a secret key")),
    })?;
    glue::array_buffer(&ctx, &out)
}

/// The byte length of a `deriveBits` length in bits.
fn derived_len(bits: Option<usize>) -> Outcome<usize> {
    match bits {
        None => Err(operation_error("deriveBits needs a length")),
        Some(bits) if bits % 8 != 0 => Err(operation_error(format!(
            "the length must be a multiple of 8, got {bits}"
        ))),
        Some(bits) => Ok(bits / 8),
    }
}

fn secret_of(material: &Material) -> Outcome<&[u8]> {
    match material {
        Material::Secret(secret) => Ok(secret),
        _ => Err(invalid_access("key derivation needs a secret key")),
    }
}

/// The most HMAC rounds one PBKDF2 derivation may run (iterations times
/// output blocks): the derivation runs in the host, where the worker's CPU
/// limit cannot interrupt it. Twice OWASP's 600,000 iterations for
/// PBKDF2-HMAC-SHA256 fits.
const MAX_PBKDF2_ROUNDS: u64 = 2_000_000;

fn pbkdf2_bytes(
    hash: &str,
    secret: &[u8],
    salt: &[u8],
    iterations: u32,
    len: usize,
) -> Outcome<Vec<u8>> {
    let hash = Hash::parse(hash)?;
    let iterations = NonZeroU32::new(iterations)
        .ok_or_else(|| operation_error("pbkdf2 needs at least 1 iteration"))?;
    let rounds = u64::from(iterations.get()) * len.div_ceil(hash.len()) as u64;
    if rounds > MAX_PBKDF2_ROUNDS {
        return Err(operation_error(format!(
            "pbkdf2 would run {rounds} hmac rounds (iterations times output blocks), \
             more than the limit of {MAX_PBKDF2_ROUNDS}"
        )));
    }
    let mut out = vec![0u8; len];
    ring::pbkdf2::derive(hash.pbkdf2(), iterations, salt, secret, &mut out);
    Ok(out)
}

/// A length `ring`'s HKDF can expand to.
struct Len(usize);

impl ring::hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn hkdf_bytes(hash: &str, secret: &[u8], salt: &[u8], info: &[u8], len: usize) -> Outcome<Vec<u8>> {
    let hash = Hash::parse(hash)?;
    if len > 255 * hash.len() {
        return Err(operation_error(format!(
            "hkdf with {} derives at most {} bytes",
            hash_name(hash),
            255 * hash.len()
        )));
    }
    let prk = ring::hkdf::Salt::new(hash.hkdf(), salt).extract(secret);
    let info = [info];
    let okm = prk
        .expand(&info, Len(len))
        .map_err(|_| operation_error("hkdf expansion failed"))?;
    let mut out = vec![0u8; len];
    okm.fill(&mut out)
        .map_err(|_| operation_error("hkdf expansion failed"))?;
    Ok(out)
}

/// `pbkdf2(hash, key, salt, iterations, bits)`.
fn pbkdf2<'js>(
    ctx: Ctx<'js>,
    hash: String,
    key: Class<'js, KeyMaterial>,
    salt: TypedArray<'js, u8>,
    iterations: u32,
    bits: Option<usize>,
) -> rquickjs::Result<Value<'js>> {
    let fail = |f| throw(&ctx, f);
    let len = derived_len(bits).map_err(fail)?;
    let out = over(&ctx, &salt, |salt| {
        pbkdf2_bytes(&hash, secret_of(&key.borrow().0)?, salt, iterations, len)
    })?;
    glue::array_buffer(&ctx, &out)
}

/// `hkdf(hash, key, salt, info, bits)`.
fn hkdf<'js>(
    ctx: Ctx<'js>,
    hash: String,
    key: Class<'js, KeyMaterial>,
    salt: TypedArray<'js, u8>,
    info: TypedArray<'js, u8>,
    bits: Option<usize>,
) -> rquickjs::Result<Value<'js>> {
    let fail = |f| throw(&ctx, f);
    let len = derived_len(bits).map_err(fail)?;
    let salt = copy(&ctx, &salt)?;
    let out = over(&ctx, &info, |info| {
        hkdf_bytes(&hash, secret_of(&key.borrow().0)?, &salt, info, len)
    })?;
    glue::array_buffer(&ctx, &out)
}

#[cfg(test)]
mod tests {
    use super::super::glue::{run, run_async, test_context};
    use super::*;

    const HELPERS: &str = include_str!("js/testdata/crypto_helpers.js");

    /// Runs an async body with the test helpers in scope.
    fn js(body: &str) -> String {
        let (runtime, context) = test_context();
        run_async(&runtime, &context, &format!("{HELPERS}\n{body}"))
    }

    #[test]
    fn random_values_and_uuids_come_from_the_kernel() {
        let (_runtime, context) = test_context();
        context.with(|ctx| {
            let uuid = run(&ctx, "crypto.randomUUID()");
            assert_eq!(uuid.len(), 36);
            assert_eq!(&uuid[14..15], "4");
            assert!(matches!(&uuid[19..20], "8" | "9" | "a" | "b"), "{uuid}");
            assert_ne!(uuid, run(&ctx, "crypto.randomUUID()"));
            let out = run(
                &ctx,
                "const a = new Uint32Array(64); crypto.getRandomValues(a) === a && a.some((x) => x !== 0)",
            );
            assert_eq!(out, "true");
            let out = run(&ctx, "try { crypto.getRandomValues(new Uint8Array(65537)) } catch (e) { e.name }");
            assert_eq!(out, "QuotaExceededError");
            let out = run(&ctx, "try { crypto.getRandomValues(new Float32Array(4)) } catch (e) { e.name }");
            assert_eq!(out, "TypeMismatchError");
        });
    }

    #[test]
    fn digests_match_fips_180_vectors() {
        let out = js("const abc = new Uint8Array([0x61, 0x62, 0x63]); const out = [];\
            for (const h of ['SHA-1', 'sha-256', 'SHA-384', 'SHA-512']) out.push(hex(await crypto.subtle.digest(h, abc)));\
            return out.join(' ');");
        assert_eq!(
            out,
            "a9993e364706816aba3e25717850c26c9cd0d89d \
             ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad \
             cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7 \
             ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
        assert_eq!(
            js("await crypto.subtle.digest('MD5', new Uint8Array(1))"),
            "rejects NotSupportedError: digest: the algorithm MD5 is not supported"
        );
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        let out = js("const key = await crypto.subtle.importKey('raw', new Uint8Array(20).fill(0x0b),\
                {name: 'HMAC', hash: 'SHA-256'}, true, ['sign', 'verify']);\
            const sig = await crypto.subtle.sign('HMAC', key, utf8('Hi There'));\
            const ok = await crypto.subtle.verify('HMAC', key, sig, utf8('Hi There'));\
            const bad = await crypto.subtle.verify('HMAC', key, sig, utf8('Hi there'));\
            const jefe = await crypto.subtle.importKey('raw', utf8('Jefe'), {name: 'HMAC', hash: 'SHA-512'}, false, ['sign']);\
            const sig2 = await crypto.subtle.sign({name: 'HMAC'}, jefe, utf8('what do ya want for nothing?'));\
            const jwk = await crypto.subtle.exportKey('jwk', key);\
            return [hex(sig), ok, bad, hex(sig2), jwk.kty, jwk.alg, jwk.k, key.algorithm.length].join(' ');");
        assert_eq!(
            out,
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7 true false \
             164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737 \
             oct HS256 CwsLCwsLCwsLCwsLCwsLCwsLCws 160"
        );
    }

    #[test]
    fn aes_gcm_matches_the_gcm_spec_vectors() {
        let out = js("const key = await crypto.subtle.importKey('raw', unhex('feffe9928665731c6d6a8f9467308308'), 'AES-GCM', true, ['encrypt', 'decrypt']);\
            const iv = unhex('cafebabefacedbaddecaf888');\
            const p = unhex('d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39');\
            const aad = unhex('feedfacedeadbeeffeedfacedeadbeefabaddad2');\
            const c = await crypto.subtle.encrypt({name: 'AES-GCM', iv, additionalData: aad}, key, p);\
            const back = await crypto.subtle.decrypt({name: 'AES-GCM', iv, additionalData: aad}, key, c);\
            let tampered; try { await crypto.subtle.decrypt({name: 'AES-GCM', iv}, key, c); } catch (e) { tampered = e.name; }\
            return [hex(c), hex(back) === hex(p), tampered].join(' ');");
        assert_eq!(
            out,
            "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e0915bc94fbc3221a5db94fae95ae7121a47 true OperationError"
        );
        assert_eq!(
            js("const key = await crypto.subtle.generateKey({name: 'AES-GCM', length: 256}, true, ['encrypt']);\
                const c = await crypto.subtle.encrypt({name: 'AES-GCM', iv: new Uint8Array(8)}, key, new Uint8Array(1));"),
            "rejects NotSupportedError: aes-gcm supports a 12-byte iv only, got 8 bytes"
        );
    }

    #[test]
    fn pbkdf2_and_hkdf_match_their_rfcs() {
        let out = js("const pw = await crypto.subtle.importKey('raw', utf8('password'), 'PBKDF2', false, ['deriveBits']);\
            const a = await crypto.subtle.deriveBits({name: 'PBKDF2', hash: 'SHA-1', salt: utf8('salt'), iterations: 4096}, pw, 160);\
            const pw2 = await crypto.subtle.importKey('raw', utf8('passwd'), 'PBKDF2', false, ['deriveBits']);\
            const b = await crypto.subtle.deriveBits({name: 'PBKDF2', hash: 'SHA-256', salt: utf8('salt'), iterations: 1}, pw2, 512);\
            const ikm = await crypto.subtle.importKey('raw', new Uint8Array(22).fill(0x0b), 'HKDF', false, ['deriveBits']);\
            const c = await crypto.subtle.deriveBits({name: 'HKDF', hash: 'SHA-256', salt: unhex('000102030405060708090a0b0c'),\
                info: unhex('f0f1f2f3f4f5f6f7f8f9')}, ikm, 336);\
            return [hex(a), hex(b), hex(c)].join(' ');");
        assert_eq!(
            out,
            "4b007901b765489abead49d926f721d065a429c1 \
             55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783 \
             3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        );
        assert_eq!(
            js("const k = await crypto.subtle.importKey('raw', utf8('x'), 'PBKDF2', false, ['deriveBits']);\
                await crypto.subtle.deriveBits({name: 'PBKDF2', hash: 'SHA-256', salt: new Uint8Array(), iterations: 1000001}, k, 512)"),
            "rejects OperationError: pbkdf2 would run 2000002 hmac rounds (iterations times output blocks), more than the limit of 2000000"
        );
        assert_eq!(
            js("await crypto.subtle.generateKey({name: 'HMAC', hash: 'SHA-256', length: 2 ** 31}, true, ['sign'])"),
            "rejects OperationError: a generated secret key is at most 32768 bits"
        );
        assert_eq!(
            js("const k = await crypto.subtle.importKey('raw', utf8('x'), 'HKDF', false, ['deriveBits']);\
                await crypto.subtle.deriveBits({name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(), info: new Uint8Array()}, k, 7)"),
            "rejects OperationError: the length must be a multiple of 8, got 7"
        );
    }

    #[test]
    fn derive_key_makes_a_usable_key() {
        let out = js("const pw = await crypto.subtle.importKey('raw', utf8('password'), 'PBKDF2', false, ['deriveKey']);\
            const key = await crypto.subtle.deriveKey({name: 'PBKDF2', hash: 'SHA-1', salt: utf8('salt'), iterations: 1},\
                pw, {name: 'HMAC', hash: 'SHA-256', length: 160}, true, ['sign']);\
            return [hex(await crypto.subtle.exportKey('raw', key)), key.algorithm.length, key.usages.join()].join(' ');");
        // RFC 6070's first vector, as the raw key.
        assert_eq!(out, "0c60c80f961f0e71f3a9b524af6012062fe037a6 160 sign");
    }

    #[test]
    fn ed25519_matches_rfc_8032() {
        let out = js("const priv = await crypto.subtle.importKey('jwk', {kty: 'OKP', crv: 'Ed25519',\
                d: 'nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo'},\
                'Ed25519', true, ['sign']);\
            const sig = await crypto.subtle.sign('Ed25519', priv, new Uint8Array(0));\
            const pub = await crypto.subtle.importKey('raw', unhex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'), 'Ed25519', true, ['verify']);\
            const ok = await crypto.subtle.verify('Ed25519', pub, sig, new Uint8Array(0));\
            const pkcs8 = await crypto.subtle.exportKey('pkcs8', priv);\
            const again = await crypto.subtle.importKey('pkcs8', pkcs8, 'Ed25519', true, ['sign']);\
            const spki = await crypto.subtle.exportKey('spki', pub);\
            return [hex(sig), ok, hex(await crypto.subtle.sign('Ed25519', again, new Uint8Array(0))) === hex(sig), hex(spki)].join(' ');");
        assert_eq!(
            out,
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b true true \
             302a300506032b6570032100d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
    }

    #[test]
    fn ecdsa_verifies_rfc_6979_and_round_trips() {
        let out = js("const pub = await crypto.subtle.importKey('jwk', {kty: 'EC', crv: 'P-256',\
                x: 'YP7UuiVanTHJYet0xjVtaMBJuJI7Yfps5mliLmDyn7Y', y: 'eQP-EAi4vJmkGunpVii8ZPLxsgwtfp9Rd6PClNRGIpk'},\
                {name: 'ECDSA', namedCurve: 'P-256'}, true, ['verify']);\
            const sig = unhex('efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8');\
            const ok = await crypto.subtle.verify({name: 'ECDSA', hash: 'SHA-256'}, pub, sig, utf8('sample'));\
            const bad = await crypto.subtle.verify({name: 'ECDSA', hash: 'SHA-256'}, pub, sig, utf8('samplf'));\
            const { privateKey, publicKey } = await crypto.subtle.generateKey({name: 'ECDSA', namedCurve: 'P-256'}, true, ['sign', 'verify']);\
            const s = await crypto.subtle.sign({name: 'ECDSA', hash: 'SHA-256'}, privateKey, utf8('hi'));\
            const spki = await crypto.subtle.exportKey('spki', publicKey);\
            const pub2 = await crypto.subtle.importKey('spki', spki, {name: 'ECDSA', namedCurve: 'P-256'}, true, ['verify']);\
            const ok2 = await crypto.subtle.verify({name: 'ECDSA', hash: 'SHA-256'}, pub2, s, utf8('hi'));\
            const jwk = await crypto.subtle.exportKey('jwk', privateKey);\
            const priv2 = await crypto.subtle.importKey('jwk', jwk, {name: 'ECDSA', namedCurve: 'P-256'}, true, ['sign']);\
            const pkcs8 = await crypto.subtle.exportKey('pkcs8', priv2);\
            const priv3 = await crypto.subtle.importKey('pkcs8', pkcs8, {name: 'ECDSA', namedCurve: 'P-256'}, false, ['sign']);\
            const s3 = await crypto.subtle.sign({name: 'ECDSA', hash: 'SHA-256'}, priv3, utf8('hi'));\
            const ok3 = await crypto.subtle.verify({name: 'ECDSA', hash: 'SHA-256'}, publicKey, s3, utf8('hi'));\
            return [ok, bad, ok2, ok3, 'alg' in jwk, jwk.crv, privateKey.type, publicKey.usages.join(), priv3.extractable].join(' ');");
        assert_eq!(out, "true false true true false P-256 private verify false");
    }

    #[test]
    fn rs256_and_ps256_jwts_verify() {
        let out = js("const n = RSA_N;\
            async function check(jwt, alg, key) {\
              const [h, p, s] = jwt.split('.');\
              return crypto.subtle.verify(alg, key, b64url(s), utf8(h + '.' + p));\
            }\
            const rs = await crypto.subtle.importKey('jwk', {kty: 'RSA', n, e: 'AQAB', alg: 'RS256'},\
                {name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256'}, false, ['verify']);\
            const spki = Uint8Array.from(atobShim(RSA_SPKI), (c) => c.charCodeAt(0));\
            const ps = await crypto.subtle.importKey('spki', spki, {name: 'RSA-PSS', hash: 'SHA-256'}, true, ['verify']);\
            const forged = RS256_JWT.replace(/\\.[^.]*\\./, '.' + 'eyJzdWIiOiJhZG1pbiJ9' + '.');\
            return [await check(RS256_JWT, 'RSASSA-PKCS1-v1_5', rs), await check(forged, 'RSASSA-PKCS1-v1_5', rs),\
              await check(PS256_JWT, {name: 'RSA-PSS', saltLength: 32}, ps), ps.algorithm.modulusLength,\
              (await crypto.subtle.exportKey('jwk', ps)).n === n].join(' ');");
        assert_eq!(out, "true false true 2048 true");
    }

    #[test]
    fn misuse_is_a_named_dom_exception() {
        assert_eq!(
            js("const k = await crypto.subtle.importKey('raw', new Uint8Array(16), 'AES-GCM', false, ['encrypt']);\
                await crypto.subtle.exportKey('raw', k);"),
            "rejects InvalidAccessError: exportKey: the key is not extractable"
        );
        assert_eq!(
            js("const k = await crypto.subtle.importKey('raw', new Uint8Array(16), {name: 'HMAC', hash: 'SHA-256'}, false, ['sign']);\
                await crypto.subtle.verify('HMAC', k, new Uint8Array(32), new Uint8Array(0));"),
            "rejects InvalidAccessError: verify: the key's usages do not include verify"
        );
        assert_eq!(
            js("await crypto.subtle.importKey('spki', new Uint8Array([1, 2, 3]), {name: 'ECDSA', namedCurve: 'P-256'}, true, ['verify']);")
                .split(':')
                .next()
                .unwrap(),
            "rejects DataError"
        );
        assert_eq!(
            js("await crypto.subtle.importKey('jwk', {kty: 'oct', k: '!!'}, {name: 'HMAC', hash: 'SHA-256'}, true, ['sign']);"),
            "rejects DataError: the jwk member k is not base64url"
        );
    }

    #[test]
    fn uuids_have_version_and_variant_bits() {
        assert_eq!(
            format_uuid([0xff; 16]),
            "ffffffff-ffff-4fff-bfff-ffffffffffff"
        );
        assert_eq!(format_uuid([0; 16]), "00000000-0000-4000-8000-000000000000");
    }
}
