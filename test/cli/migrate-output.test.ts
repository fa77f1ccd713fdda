import { expect } from "chai";
import { bidTable } from "../../orchestrator/cli/commands/migrate.js";

const A = "0x1111111111111111111111111111111111111111";
const B = "0x2222222222222222222222222222222222222222";
const C = "0x3333333333333333333333333333333333333333";

describe("tvmx migrate: the bids for a human", () => {
  it("prints a labelled table: bidder (the winner marked), endpoint, bid status, revealed price, commitment, commit tx", () => {
    const text = bidTable({
      winner: B,
      bids: [
        { host: A, endpoint: "10.0.0.1:7001", status: "Refunded", priceWei: "4000000000000000", commitment: "0xaa", txHash: "0xa1" },
        { host: B, endpoint: "10.0.0.2:7001", status: "Revealed", priceWei: "2000000000000000", commitment: "0xbb", txHash: "0xb1" },
        { host: C, endpoint: "10.0.0.3:7001", status: "Committed", commitment: "0xcc" },
      ],
    });
    const [header, a, b, c] = text.split("\n");
    expect(header!.trim().split(/\s{2,}/)).to.deep.equal(["bidder", "endpoint", "bid status", "bid price", "commitment", "commit tx"]);
    expect(a).to.match(new RegExp(`^  ${A}\\s+10\\.0\\.0\\.1:7001\\s+Refunded\\s+0\\.004 ETH \\(4000000000000000 wei\\)\\s+0xaa\\s+0xa1$`));
    expect(b).to.match(new RegExp(`^  ${B} \\(winner\\)\\s+10\\.0\\.0\\.2:7001\\s+Revealed\\s+0\\.002 ETH`));
    // never revealed: the price stays sealed
    expect(c).to.match(new RegExp(`^  ${C}\\s+10\\.0\\.0\\.3:7001\\s+Committed\\s+sealed\\s+0xcc\\s+-$`));
  });
});
