import { AbiCoder, getAddress, keccak256 } from "ethers";
import type { AdmissionTicket } from "../chain/index.js";
import type { MessageOf, SignedBlob } from "../channel/index.js";
import { TvmxError } from "../errors/index.js";

/**
 * What hosts pass each other about the auction and its outcome, beside the channel's own checks:
 * - ADMISSION_TICKET carries the source's admission ticket as a signed blob:
 *   bytes = abi.encode(uint64 auctionId, address host) (exactly 64 bytes), signature = r ‖ vs (64 bytes);
 * The source's signed hand-over no longer travels on the channel after the commit (MIGRATION_RECEIPT): it goes with
 * the engine's COMMIT, before the destination commits the import (see hand-over.ts).
 */
const coder = AbiCoder.defaultAbiCoder();

/** abi.encode(uint64, address): two 32-byte words. */
export const TICKET_BLOB_BYTES = 64;
/** r ‖ vs (EIP-2098 compact signature). */
export const TICKET_SIGNATURE_BYTES = 64;

export function ticketBlob(ticket: AdmissionTicket, signer: string): SignedBlob {
  return {
    bytes: coder.encode(["uint64", "address"], [ticket.auctionId, ticket.host]),
    signature: `0x${ticket.r.slice(2)}${ticket.vs.slice(2)}`,
    signer: getAddress(signer).toLowerCase(),
  };
}

/** The admission ticket an ADMISSION_TICKET message carries; a blob of any other form is refused. */
export function decodeTicket(message: MessageOf<"ADMISSION_TICKET">): AdmissionTicket {
  const fail = (reason: string, details: Record<string, unknown> = {}, cause?: unknown) =>
    new TvmxError("HOST_TICKET_INVALID", `malformed ADMISSION_TICKET for ${message.migrationId}: ${reason}`, {
      details: { migrationId: message.migrationId, auctionId: message.auctionId, ...details },
      ...(cause !== undefined ? { cause } : {}),
    });
  const length = (message.ticket.bytes.length - 2) / 2;
  if (length !== TICKET_BLOB_BYTES) {
    throw fail(`the ticket blob is ${length} bytes, an admission ticket is ${TICKET_BLOB_BYTES} (abi.encode(uint64 auctionId, address host))`, { length, expected: TICKET_BLOB_BYTES });
  }
  const sig = message.ticket.signature.slice(2);
  if (sig.length !== TICKET_SIGNATURE_BYTES * 2) {
    throw fail(`the ticket signature is ${sig.length / 2} bytes, it must be ${TICKET_SIGNATURE_BYTES} (r ‖ vs)`, { signatureLength: sig.length / 2 });
  }
  let auctionId: bigint;
  let host: string;
  try {
    [auctionId, host] = coder.decode(["uint64", "address"], message.ticket.bytes) as unknown as [bigint, string];
  } catch (err) {
    throw fail(`the ticket blob does not decode as (uint64, address): ${(err as Error).message}`, {}, err);
  }
  if (auctionId.toString() !== message.auctionId) throw fail(`ticket is for auction ${auctionId}, message says ${message.auctionId}`);
  return { auctionId, host, r: `0x${sig.slice(0, 64)}`, vs: `0x${sig.slice(64)}` };
}

/** The on-chain state digest (bytes32) of a TD state digest (SHA-384 hex from the CPU model). */
export function chainStateDigest(sha384Hex: string): string {
  return keccak256(`0x${sha384Hex.replace(/^0x/, "")}`);
}

/**
 * The migration engine names a migration with 16 bytes of lower-case hex (its HELLO); the channel and the
 * chain with 32 bytes of 0x-hex. The engine's id is the first 16 bytes of the channel's.
 */
export function engineMigrationId(migrationId: string): string {
  return migrationId.slice(2, 34).toLowerCase();
}
