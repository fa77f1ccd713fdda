import { getAddress } from "ethers";
import type { Allocation, DecodedEvent } from "../chain/index.js";
import { TvmxError } from "../errors/index.js";
import type { Logger } from "../log/index.js";
import type { HostContext } from "./context.js";

/**
 * Before a host acts on an `Allocated` event (starting an export or an import), it asks the contract itself:
 * `AllocationRegistry.allocation(id)` must exist and name the event's auction, source, destination and TVM. The
 * watcher has already dropped a log whose block left the canonical chain; this catches the reorg that happens after
 * that check and before the host acts (and a node that answers getLogs from a fork it is abandoning). Returns the
 * allocation, or undefined after logging why nothing is started (HOST_ALLOCATION_NOT_ON_CHAIN).
 */
export async function allocationOnChain(ctx: Pick<HostContext, "market">, event: DecodedEvent, log: Logger): Promise<Allocation | undefined> {
  const allocationId = event.args.allocationId as bigint;
  const expected = {
    auctionId: event.args.auctionId as bigint,
    source: getAddress(event.args.source as string),
    destination: getAddress(event.args.destination as string),
    tvmId: (event.args.tvmId as string).toLowerCase(),
  };
  const a = await ctx.market.allocations.allocation(allocationId);
  const onChain = { auctionId: a.auctionId, source: getAddress(a.source), destination: getAddress(a.destination), tvmId: a.tvmId.toLowerCase() };
  const mismatch = a.state === "None" ? ["exists"] : (Object.keys(expected) as (keyof typeof expected)[]).filter((k) => expected[k] !== onChain[k]);
  if (mismatch.length === 0) return a;
  const err = new TvmxError(
    "HOST_ALLOCATION_NOT_ON_CHAIN",
    a.state === "None"
      ? `allocation ${allocationId} of the Allocated event in block ${event.log.blockNumber} does not exist on-chain (a reorg removed it)`
      : `allocation ${allocationId} on-chain differs from the Allocated event in block ${event.log.blockNumber} (${mismatch.join(", ")})`,
    { details: { allocationId, block: event.log.blockNumber, blockHash: event.log.blockHash, tx: event.log.transactionHash, mismatch, expected, onChain: a.state === "None" ? undefined : onChain } },
  );
  log.warn("Allocated event not backed by the contract's allocation; no migration started", { allocationId, auctionId: expected.auctionId, block: event.log.blockNumber, err });
  return undefined;
}
