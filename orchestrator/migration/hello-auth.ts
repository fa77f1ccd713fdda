/**
 * Authentication of a stream connection before it costs the destination anything.
 *
 * The destination opens every connection with CHALLENGE {nonce}: 32 fresh random bytes. The source answers with
 * HELLO carrying `mac` = HMAC-SHA256(K, transcript), where K = HKDF-SHA256(session key, salt = nonce,
 * info = "tvmx stream hello v2" ‖ migration id ‖ stream index) and the transcript is every HELLO field in a fixed
 * order. Only a holder of the migration's session key can compute it; the nonce makes every MAC good for one
 * connection only (a recorded HELLO replayed on a new connection meets a new nonce); the id and index in the
 * derivation stop a MAC of one stream or migration being moved to another. Compared in constant time.
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import type { StreamHelloMessage, UnsignedStreamHello } from "./control-messages.js";

export const HELLO_NONCE_BYTES = 32;
export const HELLO_MAC_BYTES = 32;

const INFO_LABEL = "tvmx stream hello v2";

export function freshHelloNonce(): Buffer {
  return randomBytes(HELLO_NONCE_BYTES);
}

function transcript(hello: UnsignedStreamHello): string {
  return [
    hello.protocol.min,
    hello.protocol.max,
    hello.migrationId,
    hello.streamIndex,
    hello.streamCount,
    hello.recover ? 1 : 0,
    hello.migVersion,
    hello.memoryBytes,
    hello.numVcpus,
  ].join("|");
}

function macOf(key: Uint8Array, nonce: Uint8Array, hello: UnsignedStreamHello): Buffer {
  const info = Buffer.from(`${INFO_LABEL}|${hello.migrationId}|${hello.streamIndex}`, "utf8");
  const macKey = Buffer.from(hkdfSync("sha256", key, nonce, info, HELLO_MAC_BYTES));
  return createHmac("sha256", macKey).update(Buffer.from(nonce)).update(transcript(hello), "utf8").digest();
}

/** The source's side: the HELLO it sends in answer to the destination's challenge. */
export function signHello(key: Uint8Array, nonce: Uint8Array, hello: UnsignedStreamHello): StreamHelloMessage {
  return { ...hello, mac: macOf(key, nonce, hello).toString("hex") };
}

/** The destination's side: does this HELLO prove the key, for this connection's nonce? */
export function helloMacValid(key: Uint8Array, nonce: Uint8Array, hello: StreamHelloMessage): boolean {
  const presented = Buffer.from(hello.mac, "hex");
  const expected = macOf(key, nonce, hello);
  return presented.length === expected.length && timingSafeEqual(presented, expected);
}
