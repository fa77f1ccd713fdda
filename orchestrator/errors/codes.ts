/**
 * The error registry: every error code the project throws, grouped by subsystem (the prefix before the first
 * "_"), with the stable numeric result code of each. The numeric code is what crosses a boundary where a string
 * is too big or too loose: a message between hosts, a process exit status detail, an on-chain abort reason
 * (uint16). Numbers are never reused or renumbered: add new codes at the end of their subsystem's block.
 *
 * Layout: subsystem × 100 + index (1..98); index 99 of a block is "other error of this subsystem", which is what a
 * code received from a peer (a newer version) but unknown here maps to. 0 is success, 1 an unknown error.
 *
 * The registry is exhaustive by construction: `TvmxError` and every subsystem's error class take only a code of
 * this table (`ErrorCode`, or their subsystem's slice of it, `CodeOf<"MIGRATION">`), so a code without a number
 * does not type-check; `UniqueNumbers` below fails the type check when two codes share a number. docs/errors.md
 * is generated from this table (`npm run docs:errors`) and test/errors/registry.test.ts fails when it drifts.
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

/** One line per code: its number and what it means (the docs table is generated from these). */
export const ERROR_REGISTRY = {
  // config: the host config file and the files it names
  CONFIG_NOT_FOUND: [101, "a config, policy or platform file does not exist"],
  CONFIG_UNREADABLE: [102, "a config file cannot be read"],
  CONFIG_SYNTAX: [103, "a config file is not valid JSON"],
  CONFIG_INVALID: [104, "a config field has a wrong type or value"],
  // keystore: encrypted key files
  KEYSTORE_NOT_FOUND: [201, "no key file at the given path"],
  KEYSTORE_WRONG_PASSWORD: [202, "the password does not decrypt the key file"],
  KEYSTORE_MALFORMED: [203, "the key file is not a keystore"],
  KEYSTORE_PASSWORD_MISSING: [204, "no password given for the key file"],
  KEYSTORE_EXISTS: [205, "a key file already exists at the path"],
  // chain: RPC and contracts
  CHAIN_RPC_UNAVAILABLE: [301, "the chain's RPC endpoint does not answer"],
  CHAIN_TX_REVERTED: [302, "a transaction reverted (the custom error is in details)"],
  CHAIN_TX_FAILED: [303, "a transaction could not be sent or mined"],
  CHAIN_NO_CONTRACT: [304, "no contract code at a deployment address (a node restarted empty, or another chain)"],
  CHAIN_WRONG_NETWORK: [305, "the RPC endpoint serves another chain id"],
  CHAIN_TIMEOUT: [306, "the chain did not answer in time"],
  CHAIN_DEPLOYMENT_INVALID: [307, "the deployed contracts do not fit together"],
  CHAIN_EVENT_DECODE: [308, "an event log does not decode"],
  CHAIN_TVM_ID_INVALID: [309, "a TVM id is not 32 bytes"],
  CHAIN_CANCELLED: [310, "a chain operation was cancelled by its signal"],
  CHAIN_HOST_DEREGISTERED: [311, "the host registry says this host has deregistered"],
  CHAIN_MIRROR_IS_AUCTION_CHAIN: [312, "the mirror chain is the auction chain itself"],
  CHAIN_PORT_IN_USE: [313, "the port a local node should listen on is taken by another process"],
  CHAIN_DEADLINE_PASSED: [314, "the chain RPC stayed unavailable until the protocol deadline of the operation (a reveal window) passed"],
  CHAIN_FEE_ABOVE_CAP: [315, "the chain charges more per gas than the host config's chain.fees.maxFeePerGasWei cap; the transaction was not sent"],
  CHAIN_TX_REORGED: [316, "a reorg removed a transaction's block and it could not be mined again before its deadline (another transaction took its nonce, it reverts now, or time ran out)"],
  // journal: the crash-safe record on disk
  JOURNAL_IO: [401, "the journal cannot be read or written"],
  JOURNAL_CORRUPT: [402, "a journal record does not decode"],
  JOURNAL_LOCKED: [403, "another process holds the data directory"],
  JOURNAL_CLOSED: [404, "the journal was used after it was closed"],
  // control: the local control API
  CONTROL_UNREACHABLE: [501, "no host answers the control API"],
  CONTROL_UNAUTHORIZED: [502, "the control API refused the token"],
  CONTROL_BAD_REQUEST: [503, "a control API request is malformed"],
  CONTROL_NOT_FOUND: [504, "no control API route or object by that name"],
  CONTROL_SERVER: [505, "the control API failed for an unexpected reason"],
  CONTROL_TOKEN_MISSING: [506, "no control token in the data directory"],
  CONTROL_LISTEN: [507, "the control API cannot listen on its port"],
  CONTROL_BAD_PATH: [508, "a control API request path does not decode (broken percent-encoding)"],
  // host: the daemon's own decisions
  HOST_NOT_REGISTERED: [601, "a host is not active in the host registry"],
  HOST_NO_CAPACITY: [602, "the host has no free slot for the TVM"],
  HOST_INCOMPATIBLE: [603, "the TVM's requirements do not fit this host"],
  HOST_TD_NOT_FOUND: [604, "no TD by that id on this host"],
  HOST_SHUTTING_DOWN: [605, "the host (or the demo) is stopping"],
  HOST_PEER_TIMEOUT: [606, "a peer host did not answer in time"],
  HOST_PEER_FAILED: [607, "a peer host failed"],
  HOST_NO_BIDDERS: [608, "no destination bid for the TVM"],
  HOST_BUSY: [609, "the host is already doing that"],
  HOST_TICKET_INVALID: [610, "an admission ticket is malformed or not for this migration"],
  // 611 was HOST_RECEIPT_INVALID (the MIGRATION_RECEIPT message, retired with engine protocol v3).
  HOST_MIGRATION_TIMEOUT: [612, "the source did not complete the migration in time"],
  // 613 was HOST_DIGEST_MISMATCH (the receipt after commit); the hand-over's digest check is HOST_HANDOVER_INVALID.
  HOST_HANDOVER_INVALID: [614, "the source's hand-over at commit is missing, not signed by the allocation's source, or names another TVM or state digest"],
  HOST_ALLOCATION_NOT_ON_CHAIN: [615, "an Allocated event is not backed by AllocationRegistry.allocation(id) (a reorg removed it, or it names other parties or another TVM): no migration is started"],
  HOST_ALLOCATION_NOT_ACCEPTED: [616, "the winner's acceptance of its allocation is not on-chain: it does not commit the import (the source may abort at once, and the TD stays there)"],
  HOST_NO_SIGNER: [617, "the host's market has no key to send transactions with (a read-only market was given where the host must transact)"],
  // migration: the live-migration session and its stream
  MIGRATION_ABORTED: [701, "the migration was aborted (signal, peer or a failure given as cause)"],
  MIGRATION_TRANSPORT: [702, "the connection to the peer was lost during the migration"],
  MIGRATION_TIMEOUT: [703, "a migration step did not finish in time"],
  MIGRATION_DIGEST_MISMATCH: [704, "the two sides disagree on the TD's state digest"],
  MIGRATION_REJECTED: [705, "a TDX leaf refused the migration (the TDX status is in details)"],
  MIGRATION_FRAME_TOO_LARGE: [706, "a frame exceeds the negotiated maximum size"],
  MIGRATION_FRAME_INVALID: [707, "a frame does not decode"],
  MIGRATION_CONNECTION_CLOSED: [708, "the peer closed the connection while frames were expected"],
  MIGRATION_PROTOCOL: [709, "the peer sent a frame the protocol does not allow here"],
  MIGRATION_VERSION_MISMATCH: [710, "the two sides share no stream version"],
  MIGRATION_WORKER: [711, "a stream worker failed"],
  MIGRATION_INVALID_STATE: [712, "a session transition not allowed from its state"],
  MIGRATION_INVALID_ARGUMENT: [713, "a migration call with a bad argument"],
  MIGRATION_OUTCOME_UNKNOWN: [714, "the destination's decision is unknown; the source TD stays paused"],
  MIGRATION_NOT_ADMITTED: [730, "a stream HELLO names a migration this destination has not agreed to (no allocation won, no session key)"],
  MIGRATION_HELLO_UNAUTHENTICATED: [731, "a stream HELLO's MAC does not prove the migration's session key for this connection's challenge"],
  MIGRATION_HELLO_MEMORY_MISMATCH: [732, "a stream HELLO states another TD memory size than the allocation the destination agreed to"],
  MIGRATION_HANDOVER_REFUSED: [733, "the destination refused the hand-over that came with COMMIT: it did not commit the import, and the source resumes the TD"],
  // tdx: the CPU model (a leaf's own failure is a TDX status, not an error)
  TDX_LEAF_FAILED: [801, "a leaf failed where the caller treats failure as fatal"],
  TDX_ARGUMENT_MISSING: [802, "a leaf call lacks an argument"],
  TDX_BUFFER_TOO_SMALL: [803, "a buffer given to the model is too small"],
  TDX_FIELD_LENGTH: [804, "a field has the wrong length"],
  TDX_GPA_OUT_OF_RANGE: [805, "a guest physical address is outside the TD's memory"],
  TDX_IMAGE_INVALID: [806, "a TD image is malformed"],
  TDX_IV_COUNTER_RANGE: [807, "an IV counter is out of range"],
  TDX_MAC_LENGTH: [808, "a MAC has the wrong length"],
  TDX_MEMORY_SIZE_INVALID: [809, "a TD memory size is not allowed"],
  TDX_MIG_REQUEST_MALFORMED: [810, "a migration request structure is malformed"],
  TDX_NO_SIGNING_KEY: [811, "the platform has no report signing key"],
  TDX_REPORT_DATA_LENGTH: [812, "the report data (REPORTDATA) is not 64 bytes"],
  TDX_RTMR_INDEX_INVALID: [813, "no RTMR by that index"],
  TDX_TD_NOT_CONFIGURED: [814, "the TD was used before it was configured"],
  TDX_VCPU_COUNT_INVALID: [815, "a vCPU count is not allowed"],
  TDX_VERSION_RANGE_INVALID: [816, "a migration version range is empty or reversed"],
  TDX_VP_INDEX_INVALID: [817, "no vCPU by that index"],
  TDX_WORKLOAD_INVALID: [818, "a guest workload description is invalid"],
  TDX_CODEC_ARGUMENT: [819, "the bundle codec refused a length, offset or GPA entry (nothing was read or written)"],
  TDX_CODEC_PAGE_MAC: [820, "a page of a memory bundle did not authenticate (its index is in the details)"],
  TDX_CODEC_CIPHER: [821, "an OpenSSL call failed inside the native bundle codec"],
  TDX_CODEC_BACKEND_UNAVAILABLE: [822, "the crypto backend asked for (TVMX_CRYPTO_BACKEND) cannot be used"],
  // attestation: quotes, their collateral and the simulated issuer side
  ATTESTATION_QUOTE_INVALID: [901, "a quote (or a key in it) fails a check"],
  ATTESTATION_TCB_REJECTED: [902, "the platform's TCB level is not accepted"],
  ATTESTATION_QUOTE_MALFORMED: [903, "the quote bytes do not follow the TDX quote v4 layout"],
  ATTESTATION_QUOTE_SIGNATURE_INVALID: [904, "the quote's signature does not verify"],
  ATTESTATION_QE_REPORT_SIGNATURE_INVALID: [905, "the QE report's signature does not verify"],
  ATTESTATION_QE_REPORT_DATA_MISMATCH: [906, "the QE report does not bind the attestation key"],
  ATTESTATION_QE_IDENTITY_MALFORMED: [907, "the QE identity does not parse"],
  ATTESTATION_QE_IDENTITY_SIGNATURE_INVALID: [908, "the QE identity's signature does not verify"],
  ATTESTATION_QE_IDENTITY_MISMATCH: [909, "the quoting enclave is not the one the QE identity names"],
  ATTESTATION_CERT_MALFORMED: [910, "a certificate does not parse"],
  ATTESTATION_CERT_CHAIN_BROKEN: [911, "a certificate is not signed by the next one"],
  ATTESTATION_CERT_NOT_VALID_NOW: [912, "a certificate is expired or not yet valid"],
  ATTESTATION_UNTRUSTED_ROOT: [913, "the chain ends in a root that is not trusted"],
  ATTESTATION_PCK_EXTENSION_INVALID: [914, "the PCK certificate's SGX extension is invalid"],
  ATTESTATION_TCB_INFO_MALFORMED: [915, "the TCB info does not parse"],
  ATTESTATION_TCB_INFO_SIGNATURE_INVALID: [916, "the TCB info's signature does not verify"],
  ATTESTATION_TCB_INFO_MISMATCH: [917, "the TCB info is for another platform"],
  ATTESTATION_TCB_INFO_EXPIRED: [918, "the TCB info is past its next update"],
  ATTESTATION_TCB_NOT_SUPPORTED: [919, "no TCB level of the TCB info matches"],
  ATTESTATION_CONFIG_INVALID: [920, "the simulated provisioning service or platform is misconfigured"],
  // channel: the mutually attested TLS channel between hosts
  CHANNEL_HANDSHAKE: [1001, "the TLS handshake or peer authentication failed"],
  CHANNEL_PROTOCOL: [1002, "a channel message does not fit the protocol"],
  CHANNEL_CLOSED: [1003, "the channel closed"],
  CHANNEL_PEER_CERT_MISSING: [1004, "the peer presented no certificate"],
  CHANNEL_PEER_EVIDENCE_INVALID: [1005, "the peer's attestation evidence is rejected"],
  CHANNEL_REPORT_DATA_MISMATCH: [1006, "the peer's quote does not bind its TLS key"],
  CHANNEL_HOST_SIGNATURE_INVALID: [1007, "the host signature in the peer's certificate does not verify"],
  CHANNEL_HOST_NOT_REGISTERED: [1008, "the peer is not a registered host"],
  CHANNEL_HOST_KEY_MISMATCH: [1009, "the peer's key is not the one registered for its address"],
  CHANNEL_UNEXPECTED_PEER: [1010, "the peer is another host than the one dialled"],
  CHANNEL_BINDING_INVALID: [1011, "the host binding extension is invalid"],
  CHANNEL_BAD_VERSION: [1012, "a message has an unsupported version"],
  CHANNEL_MESSAGE_TOO_LARGE: [1013, "a message exceeds the size limit"],
  CHANNEL_UNKNOWN_MESSAGE: [1014, "a message of an unknown type"],
  CHANNEL_MALFORMED_MESSAGE: [1015, "a message's payload is malformed"],
  CHANNEL_REQUEST_INVALID: [1016, "a migration request or ACK whose content does not hold"],
  CHANNEL_VERSION_RANGE: [1017, "the two hosts share no migration version"],
  CHANNEL_SESSION_FAILED: [1018, "the migration session could not be set up"],
  CHANNEL_PEER_ERROR: [1019, "the peer reported an error"],
  CHANNEL_TIMEOUT: [1020, "the peer did not answer in time"],
  CHANNEL_PENDING_LIMIT: [1021, "too many connections of this address, this host or in all are still being verified"],
  CHANNEL_HANDSHAKE_DEADLINE: [1022, "the peer did not finish TLS and its HELLO within the deadline counted from accept"],
  // policy: the attestation policy
  POLICY_REJECTED: [1101, "a verified quote does not satisfy the policy"],
  POLICY_INVALID: [1102, "the policy file is malformed"],
  // auction: the host's view of its auctions
  AUCTION_NOT_FOUND: [1201, "no such auction (or not one for this host)"],
  AUCTION_WRONG_PHASE: [1202, "the auction is not in the phase the step needs"],
  AUCTION_BID_MISSING: [1203, "no journaled bid for the auction"],
  // pricing
  PRICING_INVALID: [1301, "a price rule is invalid"],
  // metrics
  METRICS_INVALID: [1401, "a metric is used against its definition"],
  METRICS_LISTEN: [1402, "the metrics server cannot listen on its port"],
  // cli
  CLI_BAD_ARGUMENT: [1501, "a command got an argument it cannot use"],
  CLI_USAGE: [1502, "the command line does not parse (unknown command or option, missing or invalid argument)"],
  // deployment: deploying and reading the contract suite
  DEPLOYMENT_NOT_FOUND: [1601, "no deployment file or artifact at the path"],
  DEPLOYMENT_INVALID: [1602, "a deployment file or parameter is invalid"],
  DEPLOYMENT_FAILED: [1603, "the deployment did not complete"],
} as const satisfies Record<`${Subsystem}_${string}`, readonly [number, string]>;

/** Every code the project throws. */
export type ErrorCode = keyof typeof ERROR_REGISTRY;
/** The codes of one subsystem, e.g. `CodeOf<"MIGRATION">`. */
export type CodeOf<S extends Subsystem> = Extract<ErrorCode, `${S}_${string}`>;

/** The numeric result code of every code. */
export const ERROR_CODES = Object.freeze(
  Object.fromEntries(Object.entries(ERROR_REGISTRY).map(([code, [n]]) => [code, n])),
) as { readonly [C in ErrorCode]: (typeof ERROR_REGISTRY)[C][0] } satisfies Record<ErrorCode, number>;

// Compile-time: no two codes share a number. `Clashes` is the set of codes whose number another code also has;
// the assignment below fails the type check unless it is empty.
type NumberOf<C extends ErrorCode> = (typeof ERROR_REGISTRY)[C][0];
type Clashes = { [C in ErrorCode]: NumberOf<C> extends NumberOf<Exclude<ErrorCode, C>> ? C : never }[ErrorCode];
const uniqueNumbers: [Clashes] extends [never] ? true : { duplicateNumberOf: Clashes } = true;
void uniqueNumbers;

/** True for a code of this registry (a string received from a peer or a control API server may be any). */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(ERROR_REGISTRY, code);
}

/** The subsystem a code belongs to (its prefix), or undefined for a prefix this table does not know. */
export function subsystemOf(code: string): Subsystem | undefined {
  const prefix = code.split("_", 1)[0]!;
  return Object.hasOwn(SUBSYSTEM_BASE, prefix) ? (prefix as Subsystem) : undefined;
}

/**
 * The stable numeric result code of an error code. A string received from a peer may name a code this version does
 * not know: it maps to its subsystem's "other" number (x99), or RESULT_UNKNOWN for an unknown prefix.
 */
export function resultCodeOf(code: ErrorCode | (string & {})): number {
  if (Object.hasOwn(ERROR_CODES, code)) return ERROR_CODES[code as ErrorCode];
  const subsystem = subsystemOf(code);
  return subsystem === undefined ? RESULT_UNKNOWN : SUBSYSTEM_BASE[subsystem] + 99;
}

const CODE_BY_RESULT = new Map<number, ErrorCode>(
  Object.entries(ERROR_CODES).map(([code, n]) => [n, code as ErrorCode]),
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
