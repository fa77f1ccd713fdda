/**
 * The messages of the secure auction channel: a discriminated union on `type`, one numeric wire type per
 * message (0 is reserved as invalid), and a validator per type that rejects missing, mistyped, extra or
 * oversized fields with CHANNEL_MALFORMED_MESSAGE naming the field.
 */
import { parseTvmTcbCapability, type TvmTcbCapability } from "../attestation/index.js";
import { ChannelError } from "./errors.js";

export const MESSAGE_TYPE = {
  INVALID: 0,
  HELLO: 1,
  ERROR: 2,
  MIGRATION_REQUEST: 16,
  ACK: 17,
  ADMISSION_TICKET: 18,
  BID_NOTICE: 19,
  SESSION_OFFER: 32,
  SESSION_ACCEPT: 33,
  SESSION_CONFIRM: 34,
  // 48, 49 and 51 were MIGRATION_START, MIGRATION_PROGRESS and MIGRATION_DONE: defined but never sent (the page
  // stream's own protocol carries the migration, docs/migration.md); they stay unassigned.
  MIGRATION_ABORT: 50,
  // 52 was MIGRATION_RECEIPT, the source's countersignature sent after the commit: the hand-over now travels with
  // the migration engine's COMMIT (engine protocol v3), before the destination commits. 52 stays unassigned.
} as const;

export type MessageTypeName = Exclude<keyof typeof MESSAGE_TYPE, "INVALID">;

/** A range of TDX migration versions a host supports (inclusive). */
export interface MigrationVersionRange {
  readonly min: number;
  readonly max: number;
}

/** Proves that the registered host key is live on this very TLS connection (see `helloMessageText` in connection.ts). */
export interface ChannelHelloMessage {
  readonly type: "HELLO";
  readonly address: string;
  readonly role: "client" | "server";
  /** EIP-191 signature over the channel binding (the TLS exporter value) and the role. */
  readonly signature: string;
}

export interface ErrorMessage {
  readonly type: "ERROR";
  readonly code: string;
  readonly resultCode: number;
  readonly message: string;
}

/** A signed blob whose format belongs to its producer (the CPU model, the auction contract). */
export interface SignedBlob {
  /** hex */
  readonly bytes: string;
  /** hex */
  readonly signature: string;
  /** who signed: an address, or a public key in hex */
  readonly signer?: string;
}

export interface MigrationRequestMessage {
  readonly type: "MIGRATION_REQUEST";
  readonly migrationId: string;
  /** The migration request descriptor, signed by the source platform's attestation key. */
  readonly descriptor: SignedBlob;
  /** The TVM's configuration (vCPUs, memory, attributes, XFAM, ...). */
  readonly tvmConfig: Record<string, unknown>;
  readonly tcbCapability: TvmTcbCapability;
  readonly migrationVersions: MigrationVersionRange;
  /** Where and until when acknowledgements are taken. */
  readonly ackDeadline: number;
}

export interface AckMessage {
  readonly type: "ACK";
  readonly migrationId: string;
  /** The destination's TDX quote, hex; its REPORTDATA binds the migration id and its channel key. */
  readonly quote: string;
  readonly migrationVersions: MigrationVersionRange;
  /** How many more TVMs of this kind the host can take now. */
  readonly capacity: number;
}

export interface AdmissionTicketMessage {
  readonly type: "ADMISSION_TICKET";
  readonly migrationId: string;
  readonly auctionId: string;
  readonly ticket: SignedBlob;
}

export interface BidNoticeMessage {
  readonly type: "BID_NOTICE";
  readonly migrationId: string;
  readonly auctionId: string;
  readonly bidder: string;
  /** The sealed bid's commitment as posted on chain. */
  readonly commitment: string;
  readonly txHash?: string;
}

/** The key-agreement half of one side: SESSION_OFFER from the initiator, SESSION_ACCEPT from the responder. */
interface SessionKeyShare {
  readonly migrationId: string;
  /** X25519 public key, 32 bytes hex. */
  readonly publicKey: string;
  readonly nonce: string;
  readonly migrationVersions: MigrationVersionRange;
}

export interface SessionOfferMessage extends SessionKeyShare {
  readonly type: "SESSION_OFFER";
}

export interface SessionAcceptMessage extends SessionKeyShare {
  readonly type: "SESSION_ACCEPT";
}

export interface SessionConfirmMessage {
  readonly type: "SESSION_CONFIRM";
  readonly migrationId: string;
  /** HMAC-SHA256 of the session transcript under the confirmation key, hex. */
  readonly mac: string;
}

export interface MigrationAbortMessage {
  readonly type: "MIGRATION_ABORT";
  readonly migrationId: string;
  readonly resultCode: number;
  readonly reason: string;
}

export type ChannelMessage =
  | ChannelHelloMessage
  | ErrorMessage
  | MigrationRequestMessage
  | AckMessage
  | AdmissionTicketMessage
  | BidNoticeMessage
  | SessionOfferMessage
  | SessionAcceptMessage
  | SessionConfirmMessage
  | MigrationAbortMessage;

export type MessageOf<T extends MessageTypeName> = Extract<ChannelMessage, { type: T }>;

// ---- validation ----

type Check = (value: unknown, field: string) => void;

function bad(field: string, message: string, value?: unknown): ChannelError {
  const shown = typeof value === "string" && value.length > 80 ? `${value.slice(0, 80)}…` : value;
  return new ChannelError("CHANNEL_MALFORMED_MESSAGE", `message field ${field} ${message}`, { fatal: false, details: { field, value: shown } });
}

const hex = (opts: { bytes?: number; maxBytes?: number } = {}): Check => (v, f) => {
  if (typeof v !== "string" || !/^0x[0-9a-fA-F]*$/.test(v) || v.length % 2 !== 0) throw bad(f, "must be 0x-prefixed hex", v);
  const n = (v.length - 2) / 2;
  if (opts.bytes !== undefined && n !== opts.bytes) throw bad(f, `must be ${opts.bytes} bytes`, v);
  if (opts.maxBytes !== undefined && n > opts.maxBytes) throw bad(f, `must be at most ${opts.maxBytes} bytes`, n);
};
const address: Check = (v, f) => {
  if (typeof v !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(v)) throw bad(f, "must be an address", v);
};
const uint = (max = Number.MAX_SAFE_INTEGER): Check => (v, f) => {
  if (!Number.isSafeInteger(v) || (v as number) < 0 || (v as number) > max) throw bad(f, `must be an integer 0..${max}`, v);
};
const text = (max: number): Check => (v, f) => {
  if (typeof v !== "string" || v.length > max) throw bad(f, `must be a string of at most ${max} characters`, v);
};
const decimal: Check = (v, f) => {
  if (typeof v !== "string" || !/^[0-9]{1,78}$/.test(v)) throw bad(f, "must be a decimal string", v);
};
const oneOf = (...values: string[]): Check => (v, f) => {
  if (typeof v !== "string" || !values.includes(v)) throw bad(f, `must be one of ${values.join(", ")}`, v);
};
const optional = (check: Check): Check & { optional: true } =>
  Object.assign((v: unknown, f: string) => {
    if (v !== undefined) check(v, f);
  }, { optional: true as const });
const object = (fields: Record<string, Check>): Check => (v, f) => {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw bad(f, "must be an object", v);
  const o = v as Record<string, unknown>;
  for (const key of Object.keys(o)) if (!(key in fields)) throw bad(`${f}.${key}`, "is not a field of this message");
  for (const [key, check] of Object.entries(fields)) check(o[key], `${f}.${key}`);
};
const anyObject = (maxKeys: number): Check => (v, f) => {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw bad(f, "must be an object", v);
  if (Object.keys(v).length > maxKeys) throw bad(f, `must have at most ${maxKeys} keys`);
};
const versions: Check = (v, f) => {
  object({ min: uint(0xffff), max: uint(0xffff) })(v, f);
  const r = v as MigrationVersionRange;
  if (r.min > r.max) throw bad(f, "has min > max", v);
};
const capability: Check = (v, f) => {
  try {
    parseTvmTcbCapability(v);
  } catch (cause) {
    throw bad(f, `is not a TCB capability (${(cause as Error).message})`);
  }
};
const signedBlob = object({ bytes: hex({ maxBytes: 16 * 1024 }), signature: hex({ maxBytes: 1024 }), signer: optional(hex({ maxBytes: 128 })) });
const migrationId = hex({ bytes: 32 });

const SCHEMAS: { [T in MessageTypeName]: Record<string, Check> } = {
  HELLO: { address, role: oneOf("client", "server"), signature: hex({ bytes: 65 }) },
  ERROR: { code: text(64), resultCode: uint(0xffff), message: text(1024) },
  MIGRATION_REQUEST: {
    migrationId,
    descriptor: signedBlob,
    tvmConfig: anyObject(64),
    tcbCapability: capability,
    migrationVersions: versions,
    ackDeadline: uint(),
  },
  ACK: { migrationId, quote: hex({ maxBytes: 64 * 1024 }), migrationVersions: versions, capacity: uint(1_000_000) },
  ADMISSION_TICKET: { migrationId, auctionId: decimal, ticket: signedBlob },
  BID_NOTICE: { migrationId, auctionId: decimal, bidder: address, commitment: hex({ bytes: 32 }), txHash: optional(hex({ bytes: 32 })) },
  SESSION_OFFER: { migrationId, publicKey: hex({ bytes: 32 }), nonce: hex({ bytes: 32 }), migrationVersions: versions },
  SESSION_ACCEPT: { migrationId, publicKey: hex({ bytes: 32 }), nonce: hex({ bytes: 32 }), migrationVersions: versions },
  SESSION_CONFIRM: { migrationId, mac: hex({ bytes: 32 }) },
  MIGRATION_ABORT: { migrationId, resultCode: uint(0xffff), reason: text(1024) },

};

export function messageTypeName(code: number): MessageTypeName | undefined {
  const entry = Object.entries(MESSAGE_TYPE).find(([, n]) => n === code);
  return entry && entry[0] !== "INVALID" ? (entry[0] as MessageTypeName) : undefined;
}

/** Validates a decoded JSON payload for wire type `typeName`; returns the typed message. */
export function validateMessage(typeName: MessageTypeName, payload: unknown): ChannelMessage {
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) throw bad("(payload)", "must be an object");
  const p = payload as Record<string, unknown>;
  if (p.type !== typeName) throw bad("type", `must be ${typeName} (the wire type)`, p.type);
  object({ type: () => undefined, ...SCHEMAS[typeName] })(p, typeName);
  return p as unknown as ChannelMessage;
}
