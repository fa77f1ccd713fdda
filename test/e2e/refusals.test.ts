import { expect } from "chai";
import { join } from "node:path";
import { Wallet } from "ethers";
import { parsePolicy } from "../../orchestrator/attestation/index.js";
import { connectChannel, createChannelIdentity, StaticHostDirectory, type ChannelTrust } from "../../orchestrator/channel/index.js";
import { CLUSTER_POLICY, DEFAULT_PASSWORD, OUT_OF_DATE_TCB } from "../../orchestrator/demo/cluster.js";
import { setupPlatform } from "../../orchestrator/host/index.js";
import { unlockKeystore } from "../../orchestrator/keystore/index.js";
import { clusterForSuite, publishChannelKey } from "./helpers.js";

/**
 * Hosts that must not take part: one whose quote fails the policy (an out-of-date TCB) and one that is not
 * registered on-chain. Both are refused by a running source, the first when the source asks for
 * acknowledgements and when it dials the source itself, the second when it dials the source's channel.
 */
describe("e2e: hosts the policy or the registry refuses", function () {
  this.timeout(400_000);
  const cluster = clusterForSuite({
    mirrorChain: false,
    hosts: [
      { name: "source", capacity: { tvmSlots: 4, memoryMiB: 1024 } },
      { name: "good", capacity: { tvmSlots: 4, memoryMiB: 1024 } },
      { name: "stale", capacity: { tvmSlots: 16, memoryMiB: 8192 }, platform: { teeTcbSvnRest: OUT_OF_DATE_TCB } },
    ],
  });

  /** Dials the source's channel as `wallet` on a platform seeded `platformSeed` (optionally out of date). */
  async function dialSource(wallet: Wallet, platform: { platformSeed: string; teeTcbSvnRest?: string }, beforeDial?: (keyFingerprint: string) => Promise<void>) {
    const status = await (await cluster().client("source")).get<{ channelPort: number; address: string }>("/v1/status");
    const hp = await setupPlatform({ authoritySeed: "tvmx-demo", fmspc: "90c06f000000", ...platform });
    const identity = await createChannelIdentity({ attester: hp.attester, signer: wallet });
    await beforeDial?.(identity.keyFingerprint);
    // the dialer trusts the source (it is registered); what is judged here is the source's verdict on the dialer
    const trust: ChannelTrust = {
      trustedRoots: hp.trustedRoots,
      collateral: hp.collateral,
      policy: parsePolicy(CLUSTER_POLICY),
      directory: new StaticHostDirectory([[status.address, { registered: true }]]),
    };
    return connectChannel({ host: "127.0.0.1", port: status.channelPort, identity, trust, expectedAddress: status.address, handshakeTimeoutMs: 15_000 });
  }

  it("leaves the out-of-date host out of the auction, with the policy's reason, and the TD goes to the good host", async () => {
    const source = await cluster().client("source", 240_000);
    const td = await source.post<{ tdId: string }>("/v1/tds", { memoryMiB: 16, vcpus: 1 });
    const s = await source.post<{ status: string; winner: string; refused: { host: string; reason: string }[]; acknowledged: { host: string }[]; bids: { host: string }[] }>(
      `/v1/tds/${td.tdId}/migrate`,
      {},
    );
    expect(s.status).to.equal("Committed");
    expect(s.winner).to.equal(cluster().host("good").address);
    expect(s.acknowledged.map((a) => a.host)).to.deep.equal([cluster().host("good").address]);
    expect(s.bids.map((b) => b.host)).to.deep.equal([cluster().host("good").address]);
    const refusal = s.refused.find((r) => r.host === cluster().host("stale").address);
    expect(refusal?.reason).to.match(/TCB status OutOfDate is not one of UpToDate, SWHardeningNeeded/);
  });

  it("refuses the out-of-date host when it dials the source itself", async () => {
    const stale = cluster().host("stale");
    const wallet = await unlockKeystore(join(stale.configFile, "..", "key.json"), DEFAULT_PASSWORD);
    // The stale host publishes the channel key it dials with (as its own process does at start), so that the
    // source's cheap checks pass and its verdict rests on the quote.
    const publish = (keyFingerprint: string) => publishChannelKey(cluster(), wallet, keyFingerprint);
    let error: unknown;
    try {
      const conn = await dialSource(wallet, { platformSeed: "stale", teeTcbSvnRest: OUT_OF_DATE_TCB }, publish);
      await conn.close();
    } catch (err) {
      error = err;
    }
    expect(error, "the connection was accepted").to.not.equal(undefined);
    // the source, serving the dialer, refused it on its quote and told it why (the source's own "peer refused"
    // warnings are sampled, and the stale host's earlier dials may have spent this minute's budget)
    expect((error as Error).message).to.match(/CHANNEL_PEER_EVIDENCE_INVALID.*fails the policy.*OutOfDate/);
  });

  it("refuses a host that is not registered, even with a valid quote", async () => {
    let error: (Error & { code?: string }) | undefined;
    try {
      const conn = await dialSource(Wallet.createRandom() as unknown as Wallet, { platformSeed: "intruder" });
      await conn.close();
    } catch (err) {
      error = err as Error & { code?: string };
    }
    expect(error, "the connection was accepted").to.not.equal(undefined);
    expect(error!.message).to.match(/CHANNEL_HOST_NOT_REGISTERED.*is not a registered host/);
    // and the source still serves the hosts that belong
    const status = await (await cluster().client("source")).get<{ registration: string }>("/v1/status");
    expect(status.registration).to.equal("Active");
  });
});
