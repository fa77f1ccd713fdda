import { AbiCoder, getAddress, keccak256, Signature } from "ethers";
import type { AdmissionTicket } from "../chain/index.js";
import { MIGRATION_RECEIPT_VERSION, type MessageOf, type SignedBlob } from "../channel/index.js";
import { TvmxError } from "../errors/index.js";

/**
 * What hosts pass each other about the auction and its outcome, beside the channel's own checks:
 * - ADMISSION_TICKET carries the source's admission ticket as a signed blob:
 *   bytes = abi.encode(uint64 auctionId, address host) (exactly 64 bytes), signature = r ‖ vs (64 bytes);
 * - MIGRATION_RECEIPT carries the source's countersignature of the migrated state, the 65-byte EIP-712
 *   MigrationReceipt(allocationId, tvmId, stateDigest) signature (its fields are checked by the channel).
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

/** The source's countersigned receipt, as a MIGRATION_RECEIPT message. */
export function receiptMessage(
  migrationId: string,
  receipt: { allocationId: bigint; tvmId: string; stateDigest: string; signature: string },
  signer: string,
): MessageOf<"MIGRATION_RECEIPT"> {
  return {
    type: "MIGRATION_RECEIPT",
    version: MIGRATION_RECEIPT_VERSION,
    migrationId,
    allocationId: receipt.allocationId.toString(),
    tvmId: receipt.tvmId,
    stateDigest: receipt.stateDigest,
    signature: receipt.signature,
    signer: getAddress(signer).toLowerCase(),
  };
}

export interface MigrationReceipt {
  readonly allocationId: bigint;
  readonly tvmId: string;
  readonly stateDigest: string;
  readonly signature: string;
  readonly signer: string;
}

/** A MIGRATION_RECEIPT's content, typed (the channel has validated its fields already). */
export function decodeReceipt(message: MessageOf<"MIGRATION_RECEIPT">): MigrationReceipt {
  try {
    // Reading `s` throws on a non-canonical (high) s, which the registry's ECDSA check would refuse too.
    void Signature.from(message.signature).s;
  } catch (err) {
    throw new TvmxError("HOST_RECEIPT_INVALID", `malformed MIGRATION_RECEIPT for ${message.migrationId}: ${(err as Error).message}`, {
      details: { migrationId: message.migrationId, allocationId: message.allocationId },
      cause: err,
    });
  }
  return {
    allocationId: BigInt(message.allocationId),
    tvmId: message.tvmId,
    stateDigest: message.stateDigest,
    signature: message.signature,
    signer: getAddress(message.signer),
  };
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
