/**
 * A contract-wallet source (finding 8 of issue 9: no ERC-1271): an operator whose host address is a smart account
 * opens an auction, admits bidders with tickets its owner key signed, countersigns the receipt and withdraws, and
 * a signature its ERC-1271 check refuses is refused by the contracts with the recovered signer.
 */
import { expect } from "chai";
import { id } from "ethers";
import { signAdmissionTicket, signMigrationReceipt, auctionDomain, allocationDomain } from "../../deploy/eip712.js";
import { AllocationState, BOND, RESERVE, TCB, commitmentOf, ethers, loadFixture, reveal, sealedBid, suiteFixture, time, tvmIdOf } from "./fixtures.js";
import type { SealedBid, Signer, Suite } from "./fixtures.js";

const DIGEST = id("state digest at pause");

describe("a contract-wallet source (ERC-1271)", () => {
  async function walletFixture() {
    const s = await suiteFixture();
    const owner = s.outsider;
    const wallet = await (await ethers.getContractFactory("OwnedWallet", owner)).deploy(owner.address);
    const walletAddress = await wallet.getAddress();
    const tvmId = tvmIdOf(walletAddress, "wallet tvm");
    const now = BigInt(await time.latest());
    const params = { requestId: id("wallet request"), tvmId, configHash: id("td config"), tcb: TCB, commitDeadline: now + 100n, revealDeadline: now + 200n, bond: BOND };
    await wallet.execute(s.migrationAuction, s.migrationAuction.interface.encodeFunctionData("openAuction", [params]), { value: RESERVE });
    const auctionId = await s.migrationAuction.auctionCount();
    return { ...s, owner, wallet, walletAddress, params, auctionId };
  }
  type WalletSuite = Suite & Awaited<ReturnType<typeof walletFixture>>;

  async function commitWithTicketOf(s: WalletSuite, bid: SealedBid, ticketSigner: Signer) {
    const ticket = await signAdmissionTicket(ticketSigner, auctionDomain(s.chainId, s.suite.migrationAuction), s.auctionId, bid.bidder.address);
    return s.migrationAuction.connect(bid.bidder).commitBid(s.auctionId, commitmentOf(s, s.auctionId, bid), ticket.r, ticket.vs, { value: BOND });
  }

  it("admits a bidder whose ticket the wallet's owner signed, and refuses one signed by another key", async () => {
    const s = await loadFixture(walletFixture);
    const admitted = sealedBid(s.hosts[0]!, 100n);
    await expect(commitWithTicketOf(s, admitted, s.owner)).to.emit(s.migrationAuction, "BidCommitted").withArgs(s.auctionId, s.hosts[0]!.address);
    const forged = sealedBid(s.hosts[1]!, 100n);
    await expect(commitWithTicketOf(s, forged, s.hosts[1]!))
      .to.be.revertedWithCustomError(s.migrationAuction, "MigrationAuctionInvalidTicket")
      .withArgs(s.auctionId, s.hosts[1]!.address, s.hosts[1]!.address);
    expect(await s.wallet.isValidSignature(await s.migrationAuction.admissionTicketDigest(s.auctionId, s.hosts[1]!.address), "0x")).to.equal("0xffffffff");
  });

  it("settles a whole migration: the owner's receipt confirms it, a forged one does not, and the wallet withdraws its change", async () => {
    const s = await loadFixture(walletFixture);
    const bids = [sealedBid(s.hosts[0]!, 100n), sealedBid(s.hosts[1]!, 300n)];
    for (const bid of bids) await commitWithTicketOf(s, bid, s.owner);
    await time.increaseTo(s.params.commitDeadline);
    for (const bid of bids) await reveal(s, s.auctionId, bid);
    await time.increaseTo(s.params.revealDeadline);
    await s.migrationAuction.finalize(s.auctionId);
    const allocationId = (await s.migrationAuction.auctionInfo(s.auctionId)).allocationId;
    const domain = allocationDomain(s.chainId, s.suite.allocationRegistry);
    const winner = s.hosts[0]!;
    const forged = await signMigrationReceipt(winner, domain, allocationId, s.params.tvmId, DIGEST);
    await expect(s.allocationRegistry.connect(winner).confirmMigration(allocationId, DIGEST, forged))
      .to.be.revertedWithCustomError(s.allocationRegistry, "AllocationRegistryInvalidReceipt")
      .withArgs(allocationId, winner.address, s.walletAddress);
    const receipt = await signMigrationReceipt(s.owner, domain, allocationId, s.params.tvmId, DIGEST);
    await s.allocationRegistry.connect(winner).confirmMigration(allocationId, DIGEST, receipt);
    expect(await s.allocationRegistry.state(allocationId)).to.equal(AllocationState.Committed);
    expect(await s.allocationRegistry.currentPlacement(s.params.tvmId)).to.deep.equal([winner.address, allocationId]);
    // The wallet is paid its change (reserve minus the second price, 300) and withdraws it through its owner.
    expect(await s.allocationRegistry.balanceOf(s.walletAddress)).to.equal(RESERVE - 300n);
    await expect(s.wallet.execute(s.allocationRegistry, s.allocationRegistry.interface.encodeFunctionData("withdraw")))
      .to.changeEtherBalances(ethers, [s.walletAddress], [RESERVE - 300n]);
  });
});
