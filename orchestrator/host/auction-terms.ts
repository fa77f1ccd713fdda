import { getBytes } from "ethers";
import type { AuctionInfo, PlatformSummary, TcbRequirement } from "../chain/index.js";

/**
 * The destination's last check before it risks its bond: every term the source set on-chain, against what the
 * destination acknowledged off-chain and against its own limits. A source can weaponise the terms (a TCB
 * requirement no bidder meets, a reveal window no block falls in, a huge bond); a host that commits only when
 * this returns undefined never posts a bond it could be kept from getting back by the terms alone.
 */

/** What the destination acknowledged for the migration (from the source's signed request). */
export interface AcknowledgedTerms {
  source: string;
  requestId: string;
  /** keccak256 of the signed TD descriptor the destination verified. */
  configHash: string;
  tcb: TcbRequirement;
}

/** The destination's own limits (config section `bidding`). */
export interface BidderLimits {
  maxBondWei: bigint;
  /** Least time left before the commit deadline, so that the commit is mined in time. */
  minCommitTimeLeftSec: number;
  /** Least reveal window (reveal deadline − commit deadline): a few block intervals of the chain. */
  minRevealWindowSec: number;
}

/** Why the destination must not commit to the auction `info` describes, or undefined when every term is fine. */
export function auctionTermsProblem(
  info: AuctionInfo,
  acknowledged: AcknowledgedTerms,
  limits: BidderLimits,
  registered: Pick<PlatformSummary, "teeTcbSvn" | "tdxModuleVersion">,
  nowSec: number,
): string | undefined {
  if (info.source.toLowerCase() !== acknowledged.source.toLowerCase()) return `auction source ${info.source} is not the acknowledged ${acknowledged.source}`;
  if (info.requestId.toLowerCase() !== acknowledged.requestId.toLowerCase()) return `auction request ${info.requestId} is not the acknowledged ${acknowledged.requestId}`;
  if (info.configHash.toLowerCase() !== acknowledged.configHash.toLowerCase()) {
    return `auction configuration hash ${info.configHash} is not the acknowledged descriptor's ${acknowledged.configHash}`;
  }
  if (!sameTcb(info.tcb, acknowledged.tcb)) return "auction TCB requirement differs from the acknowledged descriptor's";
  if (!tcbMeets(registered, info.tcb)) {
    return `registered platform (TEE_TCB_SVN ${registered.teeTcbSvn}, module 0x${registered.tdxModuleVersion.toString(16)}) is below the auction's TCB requirement`;
  }
  if (info.bond > limits.maxBondWei) return `bond ${info.bond} wei above this host's maximum ${limits.maxBondWei}`;
  if (info.bond > info.reserve) return `bond ${info.bond} wei above the reserve ${info.reserve}`;
  const revealWindow = info.revealDeadline - info.commitDeadline;
  if (revealWindow < limits.minRevealWindowSec) return `reveal window ${revealWindow} s shorter than this host's minimum ${limits.minRevealWindowSec} s`;
  const commitLeft = info.commitDeadline - nowSec;
  if (commitLeft < limits.minCommitTimeLeftSec) return `${commitLeft} s left to commit, less than this host's minimum ${limits.minCommitTimeLeftSec} s`;
  return undefined;
}

/** The on-chain rule of TcbLevel.meets: every TEE_TCB_SVN component and the module version at least the required. */
export function tcbMeets(platform: Pick<PlatformSummary, "teeTcbSvn" | "tdxModuleVersion">, min: TcbRequirement): boolean {
  const svn = getBytes(platform.teeTcbSvn);
  const required = getBytes(min.minTeeTcbSvn);
  for (let i = 0; i < 16; i++) if ((svn[i] ?? 0) < (required[i] ?? 0)) return false;
  return platform.tdxModuleVersion >= min.minTdxModuleVersion;
}

function sameTcb(a: TcbRequirement, b: TcbRequirement): boolean {
  return a.minTeeTcbSvn.toLowerCase() === b.minTeeTcbSvn.toLowerCase() && a.minTdxModuleVersion === b.minTdxModuleVersion;
}
