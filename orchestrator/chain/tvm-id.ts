import { randomBytes } from "node:crypto";
import { getAddress, hexlify } from "ethers";
import { TvmxError } from "../errors/index.js";

/**
 * A TVM id commits to the host that created the TVM, its origin: `bytes32(bytes20(origin)) | 96-bit random`.
 * MigrationAuction lets only the origin open the first auction of a TVM never placed (no one else can open an
 * auction for a fresh TVM and hold it); once placed, only its current placement may.
 */
export const TVM_ID_NONCE_BYTES = 12;

/** A TVM id of `origin`, with `nonce` (12 bytes, random unless given) in its low 96 bits. */
export function tvmIdFor(origin: string, nonce: Uint8Array = randomBytes(TVM_ID_NONCE_BYTES)): string {
  if (nonce.length !== TVM_ID_NONCE_BYTES) {
    throw new TvmxError("CHAIN_TVM_ID_INVALID", `a TVM id nonce is ${TVM_ID_NONCE_BYTES} bytes, not ${nonce.length}`, { details: { nonceBytes: nonce.length } });
  }
  return `${getAddress(origin).toLowerCase()}${hexlify(nonce).slice(2)}`;
}

/** The host that created TVM `tvmId` (its high 20 bytes). */
export function tvmOriginOf(tvmId: string): string {
  if (!/^0x[0-9a-fA-F]{64}$/.test(tvmId)) throw new TvmxError("CHAIN_TVM_ID_INVALID", "a TVM id is 32 bytes of 0x-hex", { details: { tvmId } });
  return getAddress(tvmId.slice(0, 42));
}
