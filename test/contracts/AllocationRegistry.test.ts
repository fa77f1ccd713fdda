import { expect } from "chai";
import { TypedDataEncoder, ZeroAddress, ZeroHash, id } from "ethers";
import { AllocationRegistry__factory } from "../../types/ethers-contracts/index.js";
import { MIGRATION_RECEIPT_TYPES, allocationDomain } from "../../deploy/eip712.js";
import { AllocationState, PARAMS, ethers, loadFixture, receiptFor, runAuction, sealedBid, suiteFixture, time, tvmIdOf } from "./fixtures.js";

/** A TVM of the suite's source (signer 1): its origin, so the source may offer it before it was ever placed. */
const TVM = tvmIdOf((await ethers.getSigners())[1]!.address);
const CONFIG = id("td config");
const DIGEST = id("state digest at pause");
const DEPOSIT = 1000n;
const PRICE = 600n;

describe("AllocationRegistry", () => {
  /** The admin also holds ALLOCATOR_ROLE so that allocations can be made directly. */
  async function fixture() {
    const s = await suiteFixture();
    const registry = s.allocationRegistry;
    await registry.grantRole(await registry.ALLOCATOR_ROLE(), s.admin.address);
    const destination = s.hosts[0]!;
    return { ...s, registry, destination };
  }

  /** Allocated to s.destination, which has not accepted yet. */
  async function unacceptedFixture() {
    const s = await fixture();
    await s.registry.allocate(TVM, 7n, s.source.address, s.destination.address, PRICE, CONFIG, { value: DEPOSIT });
    return { ...s, allocationId: 1n, allocatedAt: BigInt(await time.latest()) };
  }

  /** Allocated to s.destination, which accepted at once, as an honest destination does. */
  async function allocatedFixture() {
    const s = await unacceptedFixture();
    await s.registry.connect(s.destination).acceptAllocation(s.allocationId);
    return s;
  }

  describe("allocate", () => {
    it("records the allocation, holds the deposit and emits Allocated", async () => {
      const s = await loadFixture(fixture);
      const tx = s.registry.allocate(TVM, 7n, s.source.address, s.destination.address, PRICE, CONFIG, { value: DEPOSIT });
      await expect(tx)
        .to.emit(s.registry, "Allocated")
        .withArgs(TVM, 7n, s.source.address, s.destination.address, PRICE, CONFIG, 1n);
      await expect(tx).to.changeEtherBalances(ethers, [s.registry], [DEPOSIT]);
      const now = BigInt(await time.latest());
      const a = await s.registry.allocation(1n);
      expect(a.id).to.equal(1n);
      expect(a.auctionId).to.equal(7n);
      expect(a.state).to.equal(AllocationState.Allocated);
      expect([a.source, a.destination, a.price, a.deposit]).to.deep.equal([s.source.address, s.destination.address, PRICE, DEPOSIT]);
      expect([a.allocatedAt, a.confirmDeadline, a.settledAt]).to.deep.equal([now, now + PARAMS.confirmationTimeout, 0n]);
      expect([a.tvmId, a.configHash, a.stateDigest, a.abortReason]).to.deep.equal([TVM, CONFIG, ZeroHash, 0n]);
      expect(await s.registry.state(1n)).to.equal(AllocationState.Allocated);
      expect(await s.registry.liveAllocation(TVM)).to.equal(1n);
      expect(await s.registry.historyLength(TVM)).to.equal(1n);
      expect(await s.registry.allocationCount()).to.equal(1n);
    });

    it("is reserved to ALLOCATOR_ROLE", async () => {
      const s = await loadFixture(fixture);
      await expect(s.registry.connect(s.outsider).allocate(TVM, 1n, s.source.address, s.destination.address, 1n, CONFIG, { value: 1n }))
        .to.be.revertedWithCustomError(s.registry, "AccessControlUnauthorizedAccount")
        .withArgs(s.outsider.address, await s.registry.ALLOCATOR_ROLE());
    });

    it("rejects missing or identical parties and a deposit below the price", async () => {
      const s = await loadFixture(fixture);
      const [src, dst] = [s.source.address, s.destination.address];
      for (const [a, b] of [[ZeroAddress, dst], [src, ZeroAddress], [src, src]] as const) {
        await expect(s.registry.allocate(TVM, 1n, a, b, 1n, CONFIG, { value: 1n }))
          .to.be.revertedWithCustomError(s.registry, "AllocationRegistryInvalidParties")
          .withArgs(a, b);
      }
      await expect(s.registry.allocate(TVM, 1n, src, dst, 11n, CONFIG, { value: 10n }))
        .to.be.revertedWithCustomError(s.registry, "AllocationRegistryInvalidDeposit")
        .withArgs(10n, 11n);
    });

    it("starts a migration only from the TVM's holder, or from its origin before it was ever placed", async () => {
      const s = await loadFixture(fixture);
      const [other, next] = [s.hosts[1]!, s.hosts[2]!];
      // Never placed: only the origin (the id's high 20 bytes) may be the source.
      await expect(s.registry.allocate(TVM, 1n, other.address, s.destination.address, 1n, CONFIG, { value: 1n }))
        .to.be.revertedWithCustomError(s.registry, "AllocationRegistryNotTvmHolder")
        .withArgs(TVM, other.address, ZeroAddress);
      // Placed on the destination: the destination may offer it on, its former source may not.
      await s.registry.allocate(TVM, 1n, s.source.address, s.destination.address, 1n, CONFIG, { value: 1n });
      await s.registry.connect(s.destination).confirmMigration(1n, DIGEST, await receiptFor(s, 1n, TVM, DIGEST));
      await expect(s.registry.allocate(TVM, 2n, s.source.address, next.address, 1n, CONFIG, { value: 1n }))
        .to.be.revertedWithCustomError(s.registry, "AllocationRegistryNotTvmHolder")
        .withArgs(TVM, s.source.address, s.destination.address);
      await expect(s.registry.allocate(TVM, 2n, s.destination.address, next.address, 1n, CONFIG, { value: 1n }))
        .to.emit(s.registry, "Allocated");
    });

    it("never holds two live allocations for one TVM", async () => {
      const s = await loadFixture(allocatedFixture);
      await expect(s.registry.allocate(TVM, 8n, s.source.address, s.hosts[1]!.address, 1n, CONFIG, { value: 1n }))
        .to.be.revertedWithCustomError(s.registry, "AllocationRegistryTvmAlreadyAllocated")
        .withArgs(TVM, s.allocationId);
    });
  });

  describe("confirmMigration", () => {
    it("commits: moves the placement, pays the price to the destination and the rest to the source", async () => {
      const s = await loadFixture(allocatedFixture);
      const receipt = await receiptFor(s, s.allocationId, TVM, DIGEST);
      const tx = s.registry.connect(s.destination).confirmMigration(s.allocationId, DIGEST, receipt);
      await expect(tx).to.emit(s.registry, "MigrationCommitted").withArgs(s.allocationId, TVM, s.destination.address, DIGEST);
      await expect(tx).to.emit(s.registry, "BalanceCredited").withArgs(s.destination.address, s.allocationId, PRICE);
      await expect(tx).to.emit(s.registry, "BalanceCredited").withArgs(s.source.address, s.allocationId, DEPOSIT - PRICE);
      const a = await s.registry.allocation(s.allocationId);
      expect([a.state, a.stateDigest, a.settledAt]).to.deep.equal([AllocationState.Committed, DIGEST, BigInt(await time.latest())]);
      expect(await s.registry.currentPlacement(TVM)).to.deep.equal([s.destination.address, s.allocationId]);
      expect(await s.registry.liveAllocation(TVM)).to.equal(0n);
      expect(await s.registry.balanceOf(s.destination.address)).to.equal(PRICE);
      expect(await s.registry.balanceOf(s.source.address)).to.equal(DEPOSIT - PRICE);
    });

    it("credits no change when the price takes the whole deposit", async () => {
      const s = await loadFixture(fixture);
      await s.registry.allocate(TVM, 1n, s.source.address, s.destination.address, DEPOSIT, CONFIG, { value: DEPOSIT });
      await s.registry.connect(s.destination).confirmMigration(1n, DIGEST, await receiptFor(s, 1n, TVM, DIGEST));
      expect(await s.registry.balanceOf(s.source.address)).to.equal(0n);
      expect(await s.registry.balanceOf(s.destination.address)).to.equal(DEPOSIT);
    });

    it("is the destination's alone, with a non-zero digest countersigned by the source", async () => {
      const s = await loadFixture(allocatedFixture);
      const receipt = await receiptFor(s, s.allocationId, TVM, DIGEST);
      await expect(s.registry.connect(s.source).confirmMigration(s.allocationId, DIGEST, receipt))
        .to.be.revertedWithCustomError(s.registry, "AllocationRegistryNotDestination")
        .withArgs(s.allocationId, s.source.address, s.destination.address);
      await expect(s.registry.connect(s.destination).confirmMigration(s.allocationId, ZeroHash, receipt))
        .to.be.revertedWithCustomError(s.registry, "AllocationRegistryZeroStateDigest")
        .withArgs(s.allocationId);
      const selfSigned = await receiptFor(s, s.allocationId, TVM, DIGEST, s.destination);
      await expect(s.registry.connect(s.destination).confirmMigration(s.allocationId, DIGEST, selfSigned))
        .to.be.revertedWithCustomError(s.registry, "AllocationRegistryInvalidReceipt")
        .withArgs(s.allocationId, s.destination.address, s.source.address);
      // The source's signature of another digest does not confirm this one.
      const otherDigest = await receiptFor(s, s.allocationId, TVM, id("another state"));
      await expect(s.registry.connect(s.destination).confirmMigration(s.allocationId, DIGEST, otherDigest))
        .to.be.revertedWithCustomError(s.registry, "AllocationRegistryInvalidReceipt");
      await expect(s.registry.connect(s.destination).confirmMigration(s.allocationId, DIGEST, "0x1234"))
        .to.be.revertedWithCustomError(s.registry, "AllocationRegistryInvalidReceipt")
        .withArgs(s.allocationId, ZeroAddress, s.source.address);
    });

    it("is refused once settled and for unknown allocations", async () => {
      const s = await loadFixture(allocatedFixture);
      const receipt = await receiptFor(s, s.allocationId, TVM, DIGEST);
      await s.registry.connect(s.destination).confirmMigration(s.allocationId, DIGEST, receipt);
      await expect(s.registry.connect(s.destination).confirmMigration(s.allocationId, DIGEST, receipt))
        .to.be.revertedWithCustomError(s.registry, "AllocationRegistryUnexpectedState")
        .withArgs(s.allocationId, AllocationState.Committed, AllocationState.Allocated);
      await expect(s.registry.connect(s.destination).confirmMigration(9n, DIGEST, receipt))
        .to.be.revertedWithCustomError(s.registry, "AllocationRegistryUnexpectedState")
        .withArgs(9n, AllocationState.None, AllocationState.Allocated);
    });
  });

  describe("acceptAllocation", () => {
    it("records the destination's acceptance once, and only the destination's, while Allocated", async () => {
      const s = await loadFixture(unacceptedFixture);
      const acceptDeadline = s.allocatedAt + PARAMS.confirmationTimeout / 4n;
      const before = await s.registry.allocation(s.allocationId);
      expect([before.accepted, before.acceptDeadline]).to.deep.equal([false, acceptDeadline]);
      expect(await s.registry.settlementOf(s.allocationId)).to.deep.equal([AllocationState.Allocated, false]);
      await expect(s.registry.connect(s.source).acceptAllocation(s.allocationId))
        .to.be.revertedWithCustomError(s.registry, "AllocationRegistryNotDestination")
        .withArgs(s.allocationId, s.source.address, s.destination.address);
      await expect(s.registry.connect(s.destination).acceptAllocation(s.allocationId))
        .to.emit(s.registry, "AllocationAccepted")
        .withArgs(s.allocationId, s.destination.address);
      expect(await s.registry.settlementOf(s.allocationId)).to.deep.equal([AllocationState.Allocated, true]);
      await expect(s.registry.connect(s.destination).acceptAllocation(s.allocationId))
        .to.be.revertedWithCustomError(s.registry, "AllocationRegistryAlreadyAccepted")
        .withArgs(s.allocationId);
      await expect(s.registry.connect(s.destination).acceptAllocation(9n))
        .to.be.revertedWithCustomError(s.registry, "AllocationRegistryUnexpectedState")
        .withArgs(9n, AllocationState.None, AllocationState.Allocated);
    });

    it("lets the source abort an unaccepted allocation at once from the acceptance deadline, not before", async () => {
      const s = await loadFixture(unacceptedFixture);
      const acceptDeadline = s.allocatedAt + PARAMS.confirmationTimeout / 4n;
      await time.setNextBlockTimestamp(acceptDeadline - 1n);
      await expect(s.registry.connect(s.source).abortMigration(s.allocationId, 5))
        .to.be.revertedWithCustomError(s.registry, "AllocationRegistryAcceptancePending")
        .withArgs(s.allocationId, acceptDeadline, acceptDeadline - 1n);
      await time.setNextBlockTimestamp(acceptDeadline);
      const abort = s.registry.connect(s.source).abortMigration(s.allocationId, 5);
      // No dispute window: a destination commits an import only after its acceptance is mined.
      await expect(abort).to.emit(s.registry, "MigrationAborted").withArgs(s.allocationId, TVM, s.source.address, 5);
      await expect(abort).to.emit(s.registry, "BalanceCredited").withArgs(s.source.address, s.allocationId, DEPOSIT);
      await expect(abort).not.to.emit(s.registry, "MigrationAbortRequested");
      expect(await s.registry.settlementOf(s.allocationId)).to.deep.equal([AllocationState.Aborted, false]);
      expect(await s.registry.liveAllocation(TVM)).to.equal(0n);
      await expect(s.registry.connect(s.destination).acceptAllocation(s.allocationId))
        .to.be.revertedWithCustomError(s.registry, "AllocationRegistryUnexpectedState")
        .withArgs(s.allocationId, AllocationState.Aborted, AllocationState.Allocated);
    });

    it("lets a destination that never accepted still confirm with the hand-over (the confirmation is the performance)", async () => {
      const s = await loadFixture(unacceptedFixture);
      const receipt = await receiptFor(s, s.allocationId, TVM, DIGEST);
      await s.registry.connect(s.destination).confirmMigration(s.allocationId, DIGEST, receipt);
      expect(await s.registry.settlementOf(s.allocationId)).to.deep.equal([AllocationState.Committed, false]);
    });
  });

  describe("abortMigration", () => {
    it("lets the destination abort at any time and refunds the whole deposit to the source", async () => {
      const s = await loadFixture(allocatedFixture);
      const tx = s.registry.connect(s.destination).abortMigration(s.allocationId, 42);
      await expect(tx).to.emit(s.registry, "MigrationAborted").withArgs(s.allocationId, TVM, s.destination.address, 42);
      await expect(tx).to.emit(s.registry, "BalanceCredited").withArgs(s.source.address, s.allocationId, DEPOSIT);
      const a = await s.registry.allocation(s.allocationId);
      expect([a.state, a.abortReason]).to.deep.equal([AllocationState.Aborted, 42n]);
      expect(await s.registry.liveAllocation(TVM)).to.equal(0n);
      expect(await s.registry.currentPlacement(TVM)).to.deep.equal([ZeroAddress, 0n]);
      await expect(s.registry.connect(s.destination).abortMigration(s.allocationId, 1))
        .to.be.revertedWithCustomError(s.registry, "AllocationRegistryUnexpectedState")
        .withArgs(s.allocationId, AllocationState.Aborted, AllocationState.Allocated);
    });

    it("lets the source ask to abort alone only from the confirmation deadline, and settles it after the dispute window", async () => {
      const s = await loadFixture(allocatedFixture);
      const deadline = s.allocatedAt + PARAMS.confirmationTimeout;
      await expect(s.registry.connect(s.source).abortMigration(s.allocationId, 3))
        .to.be.revertedWithCustomError(s.registry, "AllocationRegistryConfirmationPending")
        .withArgs(s.allocationId, deadline, BigInt(await time.latest()) + 1n);
      await expect(s.registry.connect(s.outsider).settleAbort(s.allocationId))
        .to.be.revertedWithCustomError(s.registry, "AllocationRegistryNoAbortRequested")
        .withArgs(s.allocationId);
      await time.setNextBlockTimestamp(deadline);
      // The source's lone abort is only a request: the allocation stays Allocated for one more confirmation timeout.
      const settleAt = deadline + PARAMS.confirmationTimeout;
      const request = s.registry.connect(s.source).abortMigration(s.allocationId, 3);
      await expect(request).to.emit(s.registry, "MigrationAbortRequested").withArgs(s.allocationId, TVM, 3, settleAt);
      await expect(request).not.to.emit(s.registry, "MigrationAborted");
      const pending = await s.registry.allocation(s.allocationId);
      expect([pending.state, pending.abortSettleAt, pending.abortReason]).to.deep.equal([AllocationState.Allocated, settleAt, 3n]);
      expect(await s.registry.liveAllocation(TVM)).to.equal(s.allocationId);
      await expect(s.registry.connect(s.source).abortMigration(s.allocationId, 4))
        .to.be.revertedWithCustomError(s.registry, "AllocationRegistryAbortAlreadyRequested")
        .withArgs(s.allocationId, settleAt);
      await time.setNextBlockTimestamp(settleAt - 1n);
      await expect(s.registry.connect(s.outsider).settleAbort(s.allocationId))
        .to.be.revertedWithCustomError(s.registry, "AllocationRegistryAbortDisputeOpen")
        .withArgs(s.allocationId, settleAt, settleAt - 1n);
      // After the window anyone settles it, as the source's abort with the source's reason.
      await time.setNextBlockTimestamp(settleAt);
      const settle = s.registry.connect(s.outsider).settleAbort(s.allocationId);
      await expect(settle).to.emit(s.registry, "MigrationAborted").withArgs(s.allocationId, TVM, s.source.address, 3);
      await expect(settle).to.emit(s.registry, "BalanceCredited").withArgs(s.source.address, s.allocationId, DEPOSIT);
      expect(await s.registry.state(s.allocationId)).to.equal(AllocationState.Aborted);
      expect(await s.registry.liveAllocation(TVM)).to.equal(0n);
      await expect(s.registry.connect(s.outsider).settleAbort(s.allocationId))
        .to.be.revertedWithCustomError(s.registry, "AllocationRegistryUnexpectedState")
        .withArgs(s.allocationId, AllocationState.Aborted, AllocationState.Allocated);
    });

    it("lets the destination still abort at once while the source's abort request is pending", async () => {
      const s = await loadFixture(allocatedFixture);
      const deadline = s.allocatedAt + PARAMS.confirmationTimeout;
      await time.setNextBlockTimestamp(deadline);
      await s.registry.connect(s.source).abortMigration(s.allocationId, 3);
      await expect(s.registry.connect(s.destination).abortMigration(s.allocationId, 9))
        .to.emit(s.registry, "MigrationAborted")
        .withArgs(s.allocationId, TVM, s.destination.address, 9);
      await expect(s.registry.connect(s.outsider).settleAbort(s.allocationId))
        .to.be.revertedWithCustomError(s.registry, "AllocationRegistryUnexpectedState")
        .withArgs(s.allocationId, AllocationState.Aborted, AllocationState.Allocated);
    });

    it("refuses anyone else", async () => {
      const s = await loadFixture(allocatedFixture);
      await expect(s.registry.connect(s.outsider).abortMigration(s.allocationId, 1))
        .to.be.revertedWithCustomError(s.registry, "AllocationRegistryNotParticipant")
        .withArgs(s.allocationId, s.outsider.address);
    });
  });

  describe("withdraw", () => {
    it("pays the credited balance once", async () => {
      const s = await loadFixture(allocatedFixture);
      await s.registry.connect(s.destination).abortMigration(s.allocationId, 1);
      const tx = s.registry.connect(s.source).withdraw();
      await expect(tx).to.emit(s.registry, "Withdrawn").withArgs(s.source.address, DEPOSIT);
      await expect(tx).to.changeEtherBalances(ethers, [s.source, s.registry], [DEPOSIT, -DEPOSIT]);
      await expect(s.registry.connect(s.source).withdraw())
        .to.be.revertedWithCustomError(s.registry, "PullPaymentsNothingToWithdraw")
        .withArgs(s.source.address);
    });

    it("reports a refused transfer and keeps the balance", async () => {
      const s = await loadFixture(fixture);
      const account = await (await ethers.getContractFactory("ProgrammableAccount", s.admin)).deploy();
      const accountAddress = await account.getAddress();
      await s.registry.allocate(tvmIdOf(accountAddress), 1n, accountAddress, s.destination.address, PRICE, CONFIG, { value: DEPOSIT });
      await s.registry.connect(s.destination).abortMigration(1n, 1);
      await account.setRejecting(true);
      await expect(account.execute(s.registry, s.registry.interface.encodeFunctionData("withdraw")))
        .to.be.revertedWithCustomError(s.registry, "PullPaymentsTransferFailed")
        .withArgs(accountAddress, DEPOSIT);
      expect(await s.registry.balanceOf(accountAddress)).to.equal(DEPOSIT);
    });
  });

  describe("pause", () => {
    it("is reserved to PAUSER_ROLE and stops new allocations and mirror records only", async () => {
      const s = await loadFixture(allocatedFixture);
      const role = await s.registry.PAUSER_ROLE();
      await expect(s.registry.connect(s.outsider).pause())
        .to.be.revertedWithCustomError(s.registry, "AccessControlUnauthorizedAccount")
        .withArgs(s.outsider.address, role);
      await s.registry.pause();
      await expect(s.registry.allocate(tvmIdOf(s.source.address, "other"), 8n, s.source.address, s.destination.address, 1n, CONFIG, { value: 1n }))
        .to.be.revertedWithCustomError(s.registry, "EnforcedPause");
      const mirror = { sourceChainId: 999n, sourceAllocationId: 1n, tvmId: TVM, source: s.source.address, destination: s.destination.address, price: 1n, configHash: CONFIG, sourceTxHash: DIGEST, outcome: AllocationState.Committed };
      await expect(s.registry.connect(s.destination).recordMirror(mirror)).to.be.revertedWithCustomError(s.registry, "EnforcedPause");
      // The migration under way still settles, and the money comes out.
      await s.registry.connect(s.destination).confirmMigration(s.allocationId, DIGEST, await receiptFor(s, s.allocationId, TVM, DIGEST));
      await expect(s.registry.connect(s.destination).withdraw()).to.changeEtherBalances(ethers, [s.destination], [PRICE]);
      await expect(s.registry.connect(s.source).withdraw()).to.changeEtherBalances(ethers, [s.source], [DEPOSIT - PRICE]);
      await s.registry.unpause();
      await expect(s.registry.connect(s.destination).recordMirror(mirror)).to.emit(s.registry, "AllocationMirrored");
    });

    it("lets a destination abort while paused, and the source withdraw its deposit", async () => {
      const s = await loadFixture(allocatedFixture);
      await s.registry.pause();
      await s.registry.connect(s.destination).abortMigration(s.allocationId, 7);
      await expect(s.registry.connect(s.source).withdraw()).to.changeEtherBalances(ethers, [s.source], [DEPOSIT]);
    });
  });

  describe("recordMirror", () => {
    function mirrorOf(s: { source: { address: string }; destination: { address: string } }, allocationId = 5n) {
      return {
        // Another chain: a mirror of this chain's own allocations is refused.
        sourceChainId: 1n,
        sourceAllocationId: allocationId,
        sourceTxHash: id("allocation tx"),
        tvmId: TVM,
        source: s.source.address,
        destination: s.destination.address,
        price: PRICE,
        configHash: CONFIG,
        outcome: AllocationState.Committed,
      };
    }

    it("lets the destination, an active host of this chain, record its own allocation", async () => {
      const s = await loadFixture(fixture);
      const record = mirrorOf(s);
      await expect(s.registry.connect(s.destination).recordMirror(record))
        .to.emit(s.registry, "AllocationMirrored")
        .withArgs(TVM, 1n, s.destination.address, 5n, record.sourceTxHash, s.source.address, PRICE, CONFIG, AllocationState.Committed, s.destination.address);
      const stored = await s.registry.mirroredAllocation(1n, 5n, s.destination.address);
      expect(stored.recordedBy).to.equal(s.destination.address);
      expect(stored.recordedAt).to.equal(BigInt(await time.latest()));
      expect(stored.record.sourceTxHash).to.equal(record.sourceTxHash);
      expect(stored.record.price).to.equal(PRICE);
      expect(stored.record.outcome).to.equal(AllocationState.Committed);
    });

    it("records an aborted allocation too, with its outcome, so that the destination's chain has every allocation", async () => {
      const s = await loadFixture(fixture);
      const record = { ...mirrorOf(s, 6n), outcome: AllocationState.Aborted };
      await expect(s.registry.connect(s.destination).recordMirror(record))
        .to.emit(s.registry, "AllocationMirrored")
        .withArgs(TVM, 1n, s.destination.address, 6n, record.sourceTxHash, s.source.address, PRICE, CONFIG, AllocationState.Aborted, s.destination.address);
      expect((await s.registry.mirroredAllocation(1n, 6n, s.destination.address)).record.outcome).to.equal(AllocationState.Aborted);
    });

    it("lets a MIRROR_RECORDER_ROLE holder record any allocation", async () => {
      const s = await loadFixture(fixture);
      await s.registry.grantRole(await s.registry.MIRROR_RECORDER_ROLE(), s.outsider.address);
      await expect(s.registry.connect(s.outsider).recordMirror(mirrorOf(s))).to.emit(s.registry, "AllocationMirrored");
    });

    it("refuses others, and a destination that is not an active host", async () => {
      const s = await loadFixture(fixture);
      await expect(s.registry.connect(s.hosts[1]!).recordMirror(mirrorOf(s)))
        .to.be.revertedWithCustomError(s.registry, "AllocationRegistryMirrorUnauthorized")
        .withArgs(s.hosts[1]!.address);
      await s.hostRegistry.suspendHost(s.destination.address);
      await expect(s.registry.connect(s.destination).recordMirror(mirrorOf(s)))
        .to.be.revertedWithCustomError(s.registry, "AllocationRegistryMirrorUnauthorized")
        .withArgs(s.destination.address);
    });

    it("rejects incomplete records and duplicates", async () => {
      const s = await loadFixture(fixture);
      await s.registry.grantRole(await s.registry.MIRROR_RECORDER_ROLE(), s.admin.address);
      const good = mirrorOf(s);
      for (const bad of [
        { ...good, sourceChainId: 0n },
        { ...good, sourceAllocationId: 0n },
        { ...good, tvmId: ZeroHash },
        { ...good, source: ZeroAddress },
        { ...good, destination: ZeroAddress },
        // An outcome that is not a settlement: the mirror is of a settled allocation.
        { ...good, outcome: AllocationState.None },
        { ...good, outcome: AllocationState.Allocated },
      ]) {
        await expect(s.registry.recordMirror(bad))
          .to.be.revertedWithCustomError(s.registry, "AllocationRegistryInvalidMirror")
          .withArgs(bad.sourceChainId, bad.sourceAllocationId);
      }
      await s.registry.recordMirror(good);
      await expect(s.registry.recordMirror(good))
        .to.be.revertedWithCustomError(s.registry, "AllocationRegistryMirrorExists")
        .withArgs(1n, 5n, s.destination.address);
    });

    it("refuses a mirror that names this chain as its source", async () => {
      const s = await loadFixture(fixture);
      await s.registry.grantRole(await s.registry.MIRROR_RECORDER_ROLE(), s.admin.address);
      for (const recorder of [s.admin, s.destination]) {
        await expect(s.registry.connect(recorder).recordMirror({ ...mirrorOf(s), sourceChainId: s.chainId }))
          .to.be.revertedWithCustomError(s.registry, "AllocationRegistryMirrorOfThisChain")
          .withArgs(s.chainId);
      }
    });

    it("lets the destination replace a recorder's record for it once, and then nobody", async () => {
      const s = await loadFixture(fixture);
      await s.registry.grantRole(await s.registry.MIRROR_RECORDER_ROLE(), s.outsider.address);
      await s.registry.connect(s.outsider).recordMirror({ ...mirrorOf(s), price: 1n });
      await expect(s.registry.connect(s.destination).recordMirror(mirrorOf(s)))
        .to.emit(s.registry, "AllocationMirrored")
        .withArgs(TVM, 1n, s.destination.address, 5n, id("allocation tx"), s.source.address, PRICE, CONFIG, AllocationState.Committed, s.destination.address);
      const stored = await s.registry.mirroredAllocation(1n, 5n, s.destination.address);
      expect([stored.record.price, stored.recordedBy]).to.deep.equal([PRICE, s.destination.address]);
      for (const writer of [s.outsider, s.destination]) {
        await expect(s.registry.connect(writer).recordMirror({ ...mirrorOf(s), price: 2n }))
          .to.be.revertedWithCustomError(s.registry, "AllocationRegistryMirrorExists")
          .withArgs(1n, 5n, s.destination.address);
      }
    });
  });

  describe("admin", () => {
    it("sets the confirmation timeout within bounds, for later allocations", async () => {
      const s = await loadFixture(fixture);
      await expect(s.registry.setConfirmationTimeout(60)).to.emit(s.registry, "ConfirmationTimeoutChanged").withArgs(PARAMS.confirmationTimeout, 60);
      expect(await s.registry.confirmationTimeout()).to.equal(60n);
      await s.registry.allocate(TVM, 1n, s.source.address, s.destination.address, 1n, CONFIG, { value: 1n });
      expect((await s.registry.allocation(1n)).confirmDeadline).to.equal(BigInt(await time.latest()) + 60n);
      const max = 30n * 86400n;
      for (const bad of [0n, max + 1n]) {
        await expect(s.registry.setConfirmationTimeout(bad))
          .to.be.revertedWithCustomError(s.registry, "AllocationRegistryInvalidTimeout")
          .withArgs(bad, max);
      }
      await expect(new AllocationRegistry__factory(s.admin).deploy(s.admin.address, s.suite.hostRegistry, 0, []))
        .to.be.revertedWithCustomError(s.registry, "AllocationRegistryInvalidTimeout")
        .withArgs(0n, max);
      await expect(s.registry.connect(s.outsider).setConfirmationTimeout(60))
        .to.be.revertedWithCustomError(s.registry, "AccessControlUnauthorizedAccount")
        .withArgs(s.outsider.address, await s.registry.DEFAULT_ADMIN_ROLE());
    });
  });

  describe("views", () => {
    it("pages through a TVM's history, oldest first", async () => {
      const s = await loadFixture(fixture);
      for (let i = 0; i < 5; i++) {
        await s.registry.allocate(TVM, BigInt(i + 1), s.source.address, s.destination.address, 1n, CONFIG, { value: 1n });
        await s.registry.connect(s.destination).abortMigration(BigInt(i + 1), i);
      }
      expect(await s.registry.historyLength(TVM)).to.equal(5n);
      const firstPage = await s.registry.allocationHistory(TVM, 0, 2);
      expect(firstPage.map((a) => a.id)).to.deep.equal([1n, 2n]);
      const lastPage = await s.registry.allocationHistory(TVM, 3, 10);
      expect(lastPage.map((a) => [a.id, a.abortReason])).to.deep.equal([[4n, 3n], [5n, 4n]]);
      expect(await s.registry.allocationHistory(TVM, 5, 10)).to.deep.equal([]);
      expect(await s.registry.allocationHistory(id("other tvm"), 0, 10)).to.deep.equal([]);
    });

    it("caps a history page at MAX_PAGE_SIZE entries", async () => {
      const s = await loadFixture(fixture);
      const max = await s.registry.MAX_PAGE_SIZE();
      for (let i = 0n; i <= max; i++) {
        await s.registry.allocate(TVM, 1n, s.source.address, s.destination.address, 1n, CONFIG, { value: 1n });
        await s.registry.connect(s.destination).abortMigration(i + 1n, 0);
      }
      expect((await s.registry.allocationHistory(TVM, 0, max + 50n)).length).to.equal(Number(max));
    });

    it("computes the receipt digest as the off-chain code does, and reports unknown allocations as empty", async () => {
      const s = await loadFixture(allocatedFixture);
      const digest = TypedDataEncoder.hash(
        allocationDomain(s.chainId, s.suite.allocationRegistry),
        { MigrationReceipt: [...MIGRATION_RECEIPT_TYPES.MigrationReceipt] },
        { allocationId: s.allocationId, tvmId: TVM, stateDigest: DIGEST },
      );
      expect(await s.registry.receiptDigest(s.allocationId, DIGEST)).to.equal(digest);
      const unknown = await s.registry.allocation(9n);
      expect([unknown.id, unknown.state, unknown.source]).to.deep.equal([0n, AllocationState.None, ZeroAddress]);
      expect(await s.registry.hostRegistry()).to.equal(s.suite.hostRegistry);
      expect((await s.registry.mirroredAllocation(1n, 1n, ZeroAddress)).recordedAt).to.equal(0n);
    });
  });

  describe("with the auction", () => {
    it("settles an auction's allocation end to end and the winner withdraws the price", async () => {
      const s = await loadFixture(suiteFixture);
      const winner = s.hosts[0]!;
      const { allocationId } = await runAuction(s, [sealedBid(winner, 400n), sealedBid(s.hosts[1]!, 700n)]);
      const allocation = await s.allocationRegistry.allocation(allocationId);
      expect([allocation.destination, allocation.price]).to.deep.equal([winner.address, 700n]);
      await s.allocationRegistry
        .connect(winner)
        .confirmMigration(allocationId, DIGEST, await receiptFor(s, allocationId, allocation.tvmId, DIGEST));
      await expect(s.allocationRegistry.connect(winner).withdraw()).to.changeEtherBalances(ethers, [winner], [700n]);
      await expect(s.allocationRegistry.connect(s.source).withdraw()).to.changeEtherBalances(
        ethers,
        [s.source],
        [allocation.deposit - 700n],
      );
      expect(await ethers.provider.getBalance(s.suite.allocationRegistry)).to.equal(0n);
    });
  });
});
