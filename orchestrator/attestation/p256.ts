/**
 * ECDSA P-256 helpers in the encodings quotes use: raw 64-byte public keys (x||y) and raw 64-byte
 * signatures (r||s) over SHA-256, plus keys derived deterministically from a seed (so a simulated
 * provisioning service keeps the same root key across CLI runs).
 */
import {
  createECDH,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  hkdfSync,
  sign,
  verify,
  webcrypto,
  type KeyObject,
} from "node:crypto";
import { AttestationError } from "./errors.js";

export interface P256KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

// Order of the P-256 group.
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

export function generateP256KeyPair(): P256KeyPair {
  return generateKeyPairSync("ec", { namedCurve: "P-256" });
}

/** A key pair derived from `seed` and `label` (HKDF-SHA256, reduced into [1, n-1]). */
export function deriveP256KeyPair(seed: string | Buffer, label: string): P256KeyPair {
  const okm = Buffer.from(hkdfSync("sha256", seed, Buffer.alloc(0), `tvmx p256 key: ${label}`, 48));
  const scalar = (BigInt(`0x${okm.toString("hex")}`) % (P256_N - 1n)) + 1n;
  const d = Buffer.from(scalar.toString(16).padStart(64, "0"), "hex");
  const ecdh = createECDH("prime256v1");
  ecdh.setPrivateKey(d);
  const pub = ecdh.getPublicKey();
  const jwk = {
    kty: "EC",
    crv: "P-256",
    d: d.toString("base64url"),
    x: pub.subarray(1, 33).toString("base64url"),
    y: pub.subarray(33, 65).toString("base64url"),
  };
  const privateKey = createPrivateKey({ key: jwk, format: "jwk" });
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

/** x||y (64 bytes) of a P-256 public key. */
export function rawPublicKey(publicKey: KeyObject): Buffer {
  const jwk = publicKey.export({ format: "jwk" });
  if (jwk.crv !== "P-256" || !jwk.x || !jwk.y) {
    throw new AttestationError("ATTESTATION_CONFIG_INVALID", "key is not a P-256 key", { details: { crv: jwk.crv } });
  }
  return Buffer.concat([Buffer.from(jwk.x, "base64url"), Buffer.from(jwk.y, "base64url")]);
}

/** A P-256 public key from x||y; throws ATTESTATION_QUOTE_INVALID when the point is not on the curve. */
export function publicKeyFromRaw(raw: Buffer): KeyObject {
  if (raw.length !== 64) {
    throw new AttestationError("ATTESTATION_QUOTE_INVALID", "P-256 public key must be 64 bytes", { details: { length: raw.length } });
  }
  try {
    return createPublicKey({
      key: { kty: "EC", crv: "P-256", x: raw.subarray(0, 32).toString("base64url"), y: raw.subarray(32).toString("base64url") },
      format: "jwk",
    });
  } catch (cause) {
    throw new AttestationError("ATTESTATION_QUOTE_INVALID", "P-256 public key is not a point on the curve", { cause });
  }
}

/** ECDSA-SHA256 signature as r||s (64 bytes). */
export function signRaw(privateKey: KeyObject, data: Buffer): Buffer {
  return sign("sha256", data, { key: privateKey, dsaEncoding: "ieee-p1363" });
}

export function verifyRaw(publicKey: KeyObject, data: Buffer, signature: Buffer): boolean {
  if (signature.length !== 64) return false;
  return verify("sha256", data, { key: publicKey, dsaEncoding: "ieee-p1363" }, signature);
}

/** A WebCrypto key pair for @peculiar/x509 from node key objects. */
export async function toCryptoKeyPair(pair: P256KeyPair): Promise<webcrypto.CryptoKeyPair> {
  const alg = { name: "ECDSA", namedCurve: "P-256" };
  const privateKey = await webcrypto.subtle.importKey("jwk", pair.privateKey.export({ format: "jwk" }), alg, true, ["sign"]);
  const publicKey = await webcrypto.subtle.importKey("jwk", pair.publicKey.export({ format: "jwk" }), alg, true, ["verify"]);
  return { privateKey, publicKey } as webcrypto.CryptoKeyPair;
}

export function sha256(...parts: Buffer[]): Buffer {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
}
