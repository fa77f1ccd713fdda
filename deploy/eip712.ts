import { AbiCoder, Signature, keccak256 } from "ethers";
import type { Signer, TypedDataDomain } from "ethers";

/** Anything that signs EIP-712 data: an ethers Wallet or a provider signer. */
export type TypedDataSigner = Pick<Signer, "signTypedData">;

/** EIP-712 type of the admission ticket a source signs for each acknowledging host (see IMigrationAuction). */
export const ADMISSION_TICKET_TYPES = {
  AdmissionTicket: [
    { name: "auctionId", type: "uint64" },
    { name: "host", type: "address" },
  ],
} as const;

/** EIP-712 type of the source's countersignature of a migrated state (see IAllocationRegistry). */
export const MIGRATION_RECEIPT_TYPES = {
  MigrationReceipt: [
    { name: "allocationId", type: "uint64" },
    { name: "tvmId", type: "bytes32" },
    { name: "stateDigest", type: "bytes32" },
  ],
} as const;

/** The EIP-712 domain of a MigrationAuction deployment. */
export function auctionDomain(chainId: bigint, migrationAuction: string): TypedDataDomain {
  return { name: "MigrationAuction", version: "1", chainId, verifyingContract: migrationAuction };
}

/** The EIP-712 domain of an AllocationRegistry deployment. */
export function allocationDomain(chainId: bigint, allocationRegistry: string): TypedDataDomain {
  return { name: "AllocationRegistry", version: "1", chainId, verifyingContract: allocationRegistry };
}

/** An EIP-2098 compact signature, as `commitBid` takes it. */
export interface CompactSignature {
  r: string;
  vs: string;
}

/** Signs, as the auction's source, the admission ticket of `host` for auction `auctionId`. */
export async function signAdmissionTicket(
  source: TypedDataSigner,
  domain: TypedDataDomain,
  auctionId: bigint,
  host: string,
): Promise<CompactSignature> {
  const signature = await source.signTypedData(
    domain,
    { AdmissionTicket: [...ADMISSION_TICKET_TYPES.AdmissionTicket] },
    { auctionId, host },
  );
  const parsed = Signature.from(signature);
  return { r: parsed.r, vs: parsed.yParityAndS };
}

/** Signs, as the source, the receipt of the migrated state of allocation `allocationId` (65-byte signature). */
export async function signMigrationReceipt(
  source: TypedDataSigner,
  domain: TypedDataDomain,
  allocationId: bigint,
  tvmId: string,
  stateDigest: string,
): Promise<string> {
  return source.signTypedData(
    domain,
    { MigrationReceipt: [...MIGRATION_RECEIPT_TYPES.MigrationReceipt] },
    { allocationId, tvmId, stateDigest },
  );
}

/** Where a sealed bid is committed: the chain and the MigrationAuction contract, both bound into the commitment. */
export interface CommitmentDomain {
  chainId: bigint;
  migrationAuction: string;
}

/**
 * The sealed-bid commitment:
 * `keccak256(abi.encode(chainId, migrationAuction, auctionId, bidder, price, capacity, salt))`. It binds the chain
 * and the contract, so a commitment made for one deployment never reveals on another.
 */
export function bidCommitment(
  domain: CommitmentDomain,
  auctionId: bigint,
  bidder: string,
  price: bigint,
  capacity: bigint,
  salt: string,
): string {
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(
      ["uint256", "address", "uint64", "address", "uint96", "uint32", "bytes32"],
      [domain.chainId, domain.migrationAuction, auctionId, bidder, price, capacity, salt],
    ),
  );
}
