/**
 * Error codes, grouped by subsystem (the prefix before the first "_"), and the stable numeric result code
 * of each. The numeric code is what crosses a boundary where a string is too big or too loose: a message
 * between hosts, a process exit status detail, an on-chain abort reason (uint16). Numbers are never reused
 * or renumbered: add new codes at the end of their subsystem's block.
 *
 * Layout: subsystem × 100 + index; index 99 of a block is "other error of this subsystem", which is what a
 * code unknown to this table but with a known prefix maps to. 0 is success, 1 an unknown error.
 */

export const SUBSYSTEM_BASE = {
  CONFIG: 100,
  KEYSTORE: 200,
  CHAIN: 300,
  JOURNAL: 400,
  CONTROL: 500,
  HOST: 600,
  MIGRATION: 700,
  TDX: 800,
  ATTESTATION: 900,
  CHANNEL: 1000,
  POLICY: 1100,
  AUCTION: 1200,
  PRICING: 1300,
  METRICS: 1400,
  CLI: 1500,
  DEPLOYMENT: 1600,
} as const;

export type Subsystem = keyof typeof SUBSYSTEM_BASE;

export const RESULT_SUCCESS = 0;
export const RESULT_UNKNOWN = 1;

export const ERROR_CODES = {
  // config: the host config file
  CONFIG_NOT_FOUND: 101,
  CONFIG_UNREADABLE: 102,
  CONFIG_SYNTAX: 103,
  CONFIG_INVALID: 104,
  // keystore: encrypted key files
  KEYSTORE_NOT_FOUND: 201,
  KEYSTORE_WRONG_PASSWORD: 202,
  KEYSTORE_MALFORMED: 203,
  KEYSTORE_PASSWORD_MISSING: 204,
  KEYSTORE_EXISTS: 205,
  // chain: RPC and contracts
  CHAIN_RPC_UNAVAILABLE: 301,
  CHAIN_TX_REVERTED: 302,
  CHAIN_TX_FAILED: 303,
  CHAIN_CONTRACT_MISSING: 304,
  CHAIN_WRONG_NETWORK: 305,
  CHAIN_TIMEOUT: 306,
  CHAIN_DEPLOYMENT_INVALID: 307,
  CHAIN_EVENT_DECODE: 308,
  CHAIN_TVM_ID_INVALID: 309,
  // journal: the crash-safe record on disk
  JOURNAL_IO: 401,
  JOURNAL_CORRUPT: 402,
  JOURNAL_LOCKED: 403,
  JOURNAL_CLOSED: 404,
  // control: the local control API
  CONTROL_UNREACHABLE: 501,
  CONTROL_UNAUTHORIZED: 502,
  CONTROL_BAD_REQUEST: 503,
  CONTROL_NOT_FOUND: 504,
  CONTROL_SERVER: 505,
  CONTROL_TOKEN_MISSING: 506,
  CONTROL_LISTEN: 507,
  // host: the daemon's own decisions
  HOST_NOT_REGISTERED: 601,
  HOST_NO_CAPACITY: 602,
  HOST_INCOMPATIBLE: 603,
  HOST_TD_NOT_FOUND: 604,
  HOST_SHUTTING_DOWN: 605,
  HOST_PEER_TIMEOUT: 606,
  HOST_PEER_FAILED: 607,
  HOST_NO_BIDDERS: 608,
  HOST_BUSY: 609,
  // migration: the live-migration session (host-level view)
  MIGRATION_ABORTED: 701,
  MIGRATION_TRANSPORT: 702,
  MIGRATION_TIMEOUT: 703,
  MIGRATION_DIGEST_MISMATCH: 704,
  MIGRATION_REJECTED: 705,
  // tdx: a leaf returned a failure status (the TDX status itself goes in details)
  TDX_LEAF_FAILED: 801,
  // attestation
  ATTESTATION_QUOTE_INVALID: 901,
  ATTESTATION_TCB_REJECTED: 902,
  // channel
  CHANNEL_HANDSHAKE: 1001,
  CHANNEL_PROTOCOL: 1002,
  CHANNEL_CLOSED: 1003,
  // policy
  POLICY_REJECTED: 1101,
  POLICY_INVALID: 1102,
  // auction
  AUCTION_NOT_FOUND: 1201,
  AUCTION_WRONG_PHASE: 1202,
  AUCTION_BID_MISSING: 1203,
  // pricing
  PRICING_INVALID: 1301,
  // metrics
  METRICS_INVALID: 1401,
  METRICS_LISTEN: 1402,
  // cli
  CLI_BAD_ARGUMENT: 1501,
  // deployment
  DEPLOYMENT_NOT_FOUND: 1601,
  DEPLOYMENT_INVALID: 1602,
  DEPLOYMENT_FAILED: 1603,
} as const satisfies Record<string, number>;

export type KnownErrorCode = keyof typeof ERROR_CODES;

/** The subsystem a code belongs to (its prefix), or undefined for a prefix this table does not know. */
export function subsystemOf(code: string): Subsystem | undefined {
  const prefix = code.split("_", 1)[0]!;
  return prefix in SUBSYSTEM_BASE ? (prefix as Subsystem) : undefined;
}

/** The stable numeric result code of an error code (see the layout above). */
export function resultCodeOf(code: string): number {
  if (Object.hasOwn(ERROR_CODES, code)) return ERROR_CODES[code as KnownErrorCode];
  const subsystem = subsystemOf(code);
  return subsystem === undefined ? RESULT_UNKNOWN : SUBSYSTEM_BASE[subsystem] + 99;
}

const CODE_BY_RESULT = new Map<number, KnownErrorCode>(
  Object.entries(ERROR_CODES).map(([code, n]) => [n, code as KnownErrorCode]),
);

/**
 * The error code for a numeric result code received from a peer or read from the chain, e.g. 202 →
 * "KEYSTORE_WRONG_PASSWORD"; "<SUBSYSTEM>_OTHER" for an unlisted number of a known block; "SUCCESS" for 0 and
 * "UNKNOWN" otherwise.
 */
export function errorCodeOf(resultCode: number): string {
  if (resultCode === RESULT_SUCCESS) return "SUCCESS";
  const known = CODE_BY_RESULT.get(resultCode);
  if (known !== undefined) return known;
  const block = Math.floor(resultCode / 100) * 100;
  const subsystem = (Object.keys(SUBSYSTEM_BASE) as Subsystem[]).find((s) => SUBSYSTEM_BASE[s] === block);
  return subsystem === undefined ? "UNKNOWN" : `${subsystem}_OTHER`;
}
