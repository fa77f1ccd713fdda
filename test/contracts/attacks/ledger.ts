/** What the attack tests weigh: an account's wealth in the market, and the ether a transaction cost its sender. */
import { ethers } from "../fixtures.js";
import type { Suite } from "../fixtures.js";

/** What `account` could take out of the market now: its ether plus its credited balances in both contracts. */
export async function wealth(s: Suite, account: string): Promise<bigint> {
  return (await ethers.provider.getBalance(account))
    + (await s.migrationAuction.balanceOf(account))
    + (await s.allocationRegistry.balanceOf(account));
}

/** The ether the mined transaction `tx` cost its sender in gas. */
export async function gasOf(tx: Promise<{ wait(): Promise<{ gasUsed: bigint; gasPrice: bigint } | null> }>): Promise<bigint> {
  const receipt = await (await tx).wait();
  return receipt!.gasUsed * receipt!.gasPrice;
}
