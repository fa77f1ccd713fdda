/** One valid sample of every channel message type. */
import type { ChannelMessage, MessageTypeName } from "../../orchestrator/channel/index.js";

export const MIGRATION_ID = `0x${"ab".repeat(32)}`;
const h = (byte: string, n: number) => `0x${byte.repeat(n)}`;

export const SAMPLES: { [T in MessageTypeName]: Extract<ChannelMessage, { type: T }> } = {
  HELLO: { type: "HELLO", address: h("11", 20), role: "client", signature: h("22", 65) },
  ERROR: { type: "ERROR", code: "CHANNEL_MALFORMED_MESSAGE", resultCode: 1015, message: "bad field" },
  MIGRATION_REQUEST: {
    type: "MIGRATION_REQUEST",
    migrationId: MIGRATION_ID,
    descriptor: { bytes: h("01", 96), signature: h("02", 64), signer: h("03", 64) },
    tvmConfig: { vcpus: 2, memoryBytes: 268435456, attributes: "0x0000002000000000", xfam: "0xe702060000000000" },
    tcbCapability: { minTeeTcbSvn: "03010300000000000000000000000000", requiredXfam: "e000000000000000" },
    migrationVersions: { min: 1, max: 2 },
    ackDeadline: 1_900_000_000,
  },
  ACK: { type: "ACK", migrationId: MIGRATION_ID, quote: h("04", 4100), migrationVersions: { min: 1, max: 3 }, capacity: 4 },
  ADMISSION_TICKET: { type: "ADMISSION_TICKET", migrationId: MIGRATION_ID, auctionId: "7", ticket: { bytes: h("05", 128), signature: h("06", 65), signer: h("07", 20) } },
  BID_NOTICE: { type: "BID_NOTICE", migrationId: MIGRATION_ID, auctionId: "7", bidder: h("08", 20), commitment: h("09", 32), txHash: h("0a", 32) },
  SESSION_OFFER: { type: "SESSION_OFFER", migrationId: MIGRATION_ID, publicKey: h("0b", 32), nonce: h("0c", 32), migrationVersions: { min: 1, max: 2 } },
  SESSION_ACCEPT: { type: "SESSION_ACCEPT", migrationId: MIGRATION_ID, publicKey: h("0d", 32), nonce: h("0e", 32), migrationVersions: { min: 1, max: 2 } },
  SESSION_CONFIRM: { type: "SESSION_CONFIRM", migrationId: MIGRATION_ID, mac: h("0f", 32) },
  MIGRATION_ABORT: { type: "MIGRATION_ABORT", migrationId: MIGRATION_ID, resultCode: 701, reason: "destination refused the start token" },

};
