/**
 * Gas used by each operation of the on-chain market, measured on an in-process EDR chain.
 *
 *   npm run bench:gas            a table
 *   npm run bench:gas -- --json  exactly one JSON object on stdout:
 *     {"registerHost":N,"openAuction":N,"commitBid":N,"revealBid":N,"finalize":{"1":N,"10":N,"50":N},
 *      "acceptAllocation":N,"confirmMigration":N,"abortMigration":N,"withdraw":N,"lifecycle2":N}
 *
 * commitBid and revealBid are the largest values seen over the 61 bids of the 1-, 10- and 50-bidder auctions; withdraw is the
 * destination's AllocationRegistry.withdraw() after a committed migration.
 */
import { network } from "hardhat";
import { measureMarketGas } from "./gas/market-gas.js";
import type { MarketGas } from "./gas/market-gas.js";

function table(gas: MarketGas): string {
  const rows: Array<[string, string, string]> = [
    ["HostRegistry.register", String(gas.registerHost), "endpoint of 24 bytes"],
    ["MigrationAuction.openAuction (1 acker)", String(gas.openAuctionByAckers[1]), "tickets are signed off-chain; target <= 120000"],
    ["MigrationAuction.openAuction (50 ackers)", String(gas.openAuctionByAckers[50]), ""],
    ["MigrationAuction.commitBid (max of 61)", String(gas.commitBid), "target <= 60000"],
    ["MigrationAuction.revealBid (max of 61)", String(gas.revealBid), "target <= 60000"],
    ["MigrationAuction.finalize (1 reveal)", String(gas.finalize[1]), "includes AllocationRegistry.allocate; target <= 150000"],
    ["MigrationAuction.finalize (10 reveals)", String(gas.finalize[10]), ""],
    ["MigrationAuction.finalize (50 reveals)", String(gas.finalize[50]), "target <= 1.10 x finalize(1)"],
    ["AllocationRegistry.acceptAllocation", String(gas.acceptAllocation), "the winner, on seeing Allocated"],
    ["AllocationRegistry.confirmMigration", String(gas.confirmMigration), "destination, with the source's receipt"],
    ["AllocationRegistry.abortMigration", String(gas.abortMigration), "destination aborts"],
    ["AllocationRegistry.withdraw", String(gas.withdraw), "destination withdraws the price"],
    ["MigrationAuction.withdrawBond", String(gas.withdrawBond), "the winner, after its allocation committed"],
    ["one migration, two bidders (lifecycle2)", String(gas.lifecycle2), "every transaction incl. withdrawals; target <= 700000"],
  ];
  const ratio = gas.finalize[50] / gas.finalize[1];
  const width = Math.max(...rows.map(([name]) => name.length));
  const lines = rows.map(([name, value, note]) => `${name.padEnd(width)}  ${value.padStart(7)}  ${note}`);
  lines.push(`${"finalize(50) / finalize(1)".padEnd(width)}  ${ratio.toFixed(4).padStart(7)}`);
  return `${"operation".padEnd(width)}  ${"gas".padStart(7)}  note\n${lines.join("\n")}`;
}

async function main(): Promise<void> {
  const json = process.argv.includes("--json");
  const connection = await network.create();
  try {
    const gas = await measureMarketGas(connection);
    if (json) {
      const summary = {
        registerHost: gas.registerHost,
        openAuction: gas.openAuctionByAckers[50],
        commitBid: gas.commitBid,
        revealBid: gas.revealBid,
        finalize: gas.finalize,
        acceptAllocation: gas.acceptAllocation,
        confirmMigration: gas.confirmMigration,
        abortMigration: gas.abortMigration,
        withdraw: gas.withdraw,
        lifecycle2: gas.lifecycle2,
      };
      process.stdout.write(`${JSON.stringify(summary)}\n`);
    } else {
      process.stdout.write(`${table(gas)}\n`);
    }
  } finally {
    await connection.close();
  }
}

await main();
