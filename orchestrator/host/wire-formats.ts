import { AbiCoder, getAddress, keccak256, Signature } from "ethers";
import type { AdmissionTicket } from "../chain/index.js";
import type { MessageOf, SignedBlob } from "../channel/index.js";
import { TvmxError } from "../errors/index.js";

/**
 * The signed blobs hosts pass each other in ADMISSION_TICKET messages (the channel's message for "a signed
 * authorization from the source"):
 * - the admission ticket:  bytes = abi.encode(uint64 auctionId, address host),             signature = r ‖ vs (64 bytes)
 * - the migration receipt: bytes = abi.encode(uint64 allocationId, bytes32 tvmId, bytes32 stateDigest),
 *                          signature = the source's 65-byte EIP-712 MigrationReceipt signature
 * They are told apart by the length of `bytes` (64 vs 96).
 */
const coder = AbiCoder.defaultAbiCoder();

export function ticketBlob(ticket: AdmissionTicket, signer: string): SignedBlob {
  return {
    bytes: coder.encode(["uint64", "address"], [ticket.auctionId, ticket.host]),
    signature: `0x${ticket.r.slice(2)}${ticket.vs.slice(2)}`,
    signer: getAddress(signer).toLowerCase(),
  };
}

export function receiptBlob(allocationId: bigint, tvmId: string, stateDigest: string, signature: string, signer: string): SignedBlob {
  return { bytes: coder.encode(["uint64", "bytes32", "bytes32"], [allocationId, tvmId, stateDigest]), signature, signer: getAddress(signer).toLowerCase() };
}

export type DecodedBlob =
  | { kind: "ticket"; ticket: AdmissionTicket }
  | { kind: "receipt"; allocationId: bigint; tvmId: string; stateDigest: string; signature: string };

export function decodeBlob(message: MessageOf<"ADMISSION_TICKET">): DecodedBlob {
  const bytes = message.ticket.bytes;
  const len = (bytes.length - 2) / 2;
  try {
    if (len === 64) {
      const [auctionId, host] = coder.decode(["uint64", "address"], bytes) as unknown as [bigint, string];
      const sig = message.ticket.signature.slice(2);
      if (sig.length !== 128) throw new Error("ticket signature must be 64 bytes (r ‖ vs)");
      if (auctionId.toString() !== message.auctionId) throw new Error(`ticket is for auction ${auctionId}, message says ${message.auctionId}`);
      return { kind: "ticket", ticket: { auctionId, host, r: `0x${sig.slice(0, 64)}`, vs: `0x${sig.slice(64)}` } };
    }
    if (len === 96) {
      const [allocationId, tvmId, stateDigest] = coder.decode(["uint64", "bytes32", "bytes32"], bytes) as unknown as [bigint, string, string];
      Signature.from(message.ticket.signature); // well-formed 65-byte signature, or throws
      return { kind: "receipt", allocationId, tvmId, stateDigest, signature: message.ticket.signature };
    }
    throw new Error(`a signed blob of ${len} bytes is neither a ticket (64) nor a receipt (96)`);
  } catch (err) {
    throw new TvmxError("CHANNEL_PROTOCOL", `malformed ${message.type} for ${message.migrationId}: ${(err as Error).message}`, { details: { migrationId: message.migrationId }, cause: err });
  }
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
