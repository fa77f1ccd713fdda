/**
 * The channel listener under hostile clients: one host or one address holding its maximum of pending
 * connections does not lock the others out; a slow ClientHello or HELLO is closed by a deadline counted from
 * accept; refused connections are all counted but logged only up to the rate limit.
 */
import { expect } from "chai";
import { connect as netConnect } from "node:net";
import { formatLogLine, MemoryLogger } from "../../orchestrator/log/index.js";
import { MetricsRegistry, type Counter } from "../../orchestrator/metrics/index.js";
import { ChannelServer, connectChannel, encodeMessage, type ChannelConnection, type ChannelError, type RejectedPeer } from "../../orchestrator/channel/index.js";
import { pollUntil } from "../../orchestrator/util/index.js";
import { captureClientHello, keepOpen, stallAfterTls, stallTcp } from "./hostile-clients.js";
import { createWorld, type TestHost, type TestWorld } from "./hosts.js";

const LEGIT = 25;

function refusedCounter(): Counter {
  return new MetricsRegistry().counter("tvmx_channel_refused_total", "Connections the channel listener refused, by reason.", ["reason"]);
}

/** `n` registered hosts dialing at once, each from its own loopback address; how many got through. */
async function legitimateHandshakes(world: TestWorld, server: ChannelServer, hosts: TestHost[]): Promise<number> {
  const results = await Promise.allSettled(
    hosts.map((h, i) =>
      connectChannel({ host: "127.0.0.1", port: server.port, localAddress: `127.0.1.${i + 1}`, identity: h.identity, trust: world.trust(), handshakeTimeoutMs: 8000 }),
    ),
  );
  const ok = results.filter((r): r is PromiseFulfilledResult<ChannelConnection> => r.status === "fulfilled");
  await Promise.all(ok.map((r) => r.value.close()));
  return ok.length;
}

/** Samples a number every few ms and keeps its maximum. */
function sampleMax(read: () => number): { stop: () => number } {
  let max = read();
  const timer = setInterval(() => (max = Math.max(max, read())), 5);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.max(max, read());
    },
  };
}

describe("channel listener limits (hostile clients)", function () {
  this.timeout(60_000);
  let world: TestWorld;
  let legit: TestHost[];

  before(async () => {
    world = await createWorld();
    legit = await Promise.all(Array.from({ length: LEGIT }, () => world.host()));
  });

  it(`serves ${LEGIT} other hosts while one registered host holds its maximum of pending connections (TLS done, no HELLO)`, async () => {
    const self = await world.host();
    const refused = refusedCounter();
    const server = await ChannelServer.listen({ identity: self.identity, trust: world.trust(), handshakeTimeoutMs: 2000, refusedTotal: refused });
    const flooder = await world.host();
    try {
      // The attack of the finding: 64 connections (the whole default total), spread over 8 addresses so that the
      // per-address limit alone would not stop them; renewed as soon as the server drops one.
      const addresses = Array.from({ length: 8 }, (_, i) => `127.0.2.${i + 1}`);
      let n = 0;
      const flood = keepOpen(() => stallAfterTls(server.port, flooder.identity, addresses[n++ % addresses.length]!), 64);
      const held = () => server.pending.byIdentity.get(flooder.wallet.address) ?? 0;
      await pollUntil(() => (held() === 4 && refused.get({ reason: "limit_identity" }) >= 60 ? true : undefined), { intervalMs: 10, timeoutMs: 10_000 });
      const sampler = sampleMax(held);
      const succeeded = await legitimateHandshakes(world, server, legit);
      const maxHeld = sampler.stop();
      flood.stop();
      expect(succeeded, "legitimate handshakes that succeeded").to.equal(LEGIT);
      expect(maxHeld, "pending connections of the flooding host").to.equal(4);
      expect(refused.get({ reason: "limit_identity" })).to.be.at.least(60);
      expect(refused.get({ reason: "limit_total" })).to.equal(0);
      console.log(`      figures: ${succeeded}/${LEGIT} legitimate handshakes; flooder held ${maxHeld} pending; refused limit_identity=${refused.get({ reason: "limit_identity" })}`);
    } finally {
      await server.close();
    }
  });

  it(`serves ${LEGIT} hosts while one address holds its maximum of pending raw TCP connections`, async () => {
    const self = await world.host();
    const refused = refusedCounter();
    const server = await ChannelServer.listen({ identity: self.identity, trust: world.trust(), handshakeTimeoutMs: 2000, refusedTotal: refused });
    try {
      const flood = keepOpen(() => stallTcp(server.port, "127.0.3.1"), 64);
      const held = () => server.pending.byAddress.get("127.0.3.1") ?? 0;
      await pollUntil(() => (held() === 8 && refused.get({ reason: "limit_address" }) >= 56 ? true : undefined), { intervalMs: 10, timeoutMs: 10_000 });
      const sampler = sampleMax(held);
      const succeeded = await legitimateHandshakes(world, server, legit);
      const maxHeld = sampler.stop();
      flood.stop();
      expect(succeeded, "legitimate handshakes that succeeded").to.equal(LEGIT);
      expect(maxHeld, "pending connections of the flooding address").to.equal(8);
      expect(refused.get({ reason: "limit_total" })).to.equal(0);
      console.log(`      figures: ${succeeded}/${LEGIT} legitimate handshakes; flooding address held ${maxHeld} pending; refused limit_address=${refused.get({ reason: "limit_address" })}`);
    } finally {
      await server.close();
    }
  });

  it("closes a connection that trickles half a ClientHello by the deadline counted from accept", async () => {
    const self = await world.host();
    const deadlineMs = 1000;
    const server = await ChannelServer.listen({ identity: self.identity, trust: world.trust(), handshakeTimeoutMs: deadlineMs });
    try {
      const hello = await captureClientHello();
      const half = hello.subarray(0, Math.floor(hello.length / 2));
      const rejected = new Promise<RejectedPeer>((r) => server.once("rejected", r));
      const started = Date.now();
      const socket = netConnect({ host: "127.0.0.1", port: server.port });
      socket.on("error", () => undefined);
      const closed = new Promise<number>((r) => socket.once("close", () => r(Date.now() - started)));
      // One byte every 50 ms: the socket is never idle, so an idle timeout would never fire.
      let i = 0;
      const trickle = setInterval(() => (i < half.length && !socket.destroyed ? socket.write(half.subarray(i, ++i)) : clearInterval(trickle)), 50);
      const elapsed = await closed;
      clearInterval(trickle);
      const { error, reason } = await rejected;
      expect(reason).to.equal("deadline");
      expect((error as ChannelError).code).to.equal("CHANNEL_HANDSHAKE_DEADLINE");
      expect(i, "bytes sent before the close").to.be.below(half.length);
      expect(elapsed).to.be.at.least(deadlineMs - 100).and.below(deadlineMs + 4000);
      expect(server.pending.total).to.equal(0);
    } finally {
      await server.close();
    }
  });

  it("closes a registered host that trickles its HELLO by the same deadline", async () => {
    const self = await world.host();
    const deadlineMs = 1000;
    const server = await ChannelServer.listen({ identity: self.identity, trust: world.trust(), handshakeTimeoutMs: deadlineMs });
    try {
      const slow = await world.host();
      const rejected = new Promise<RejectedPeer>((r) => server.once("rejected", r));
      const started = Date.now();
      const socket = await stallAfterTls(server.port, slow.identity, "127.0.4.1");
      const closed = new Promise<number>((r) => socket.once("close", () => r(Date.now() - started)));
      const hello = encodeMessage({ type: "HELLO", address: slow.wallet.address, role: "client", signature: `0x${"11".repeat(65)}` });
      let i = 0;
      const trickle = setInterval(() => (i < hello.length && !socket.destroyed ? socket.write(hello.subarray(i, ++i)) : clearInterval(trickle)), 50);
      const elapsed = await closed;
      clearInterval(trickle);
      const { error, reason } = await rejected;
      expect(reason).to.equal("deadline");
      expect((error as ChannelError).code).to.equal("CHANNEL_HANDSHAKE_DEADLINE");
      expect(elapsed).to.be.at.least(deadlineMs - 100).and.below(deadlineMs + 4000);
    } finally {
      await server.close();
    }
  });

  it("counts every refused connection but logs only up to the rate limit, then one summary", async () => {
    const self = await world.host();
    const log = new MemoryLogger();
    const refused = refusedCounter();
    const server = await ChannelServer.listen({
      identity: self.identity,
      trust: world.trust(),
      logger: log,
      maxPendingPerAddress: 1,
      refusedLogLimit: 5,
      refusedLogWindowMs: 60_000,
      refusedTotal: refused,
    });
    try {
      const holder = await stallTcp(server.port, "127.0.5.1");
      await pollUntil(() => (server.pending.byAddress.get("127.0.5.1") === 1 ? true : undefined), { intervalMs: 5, timeoutMs: 5000 });
      // 40 refused at TCP accept, and 10 unregistered hosts refused by verification.
      await Promise.all(Array.from({ length: 40 }, () => stallTcp(server.port, "127.0.5.1").then((s) => new Promise((r) => (s.destroyed ? r(undefined) : s.once("close", r))))));
      const strangers = await Promise.all(Array.from({ length: 10 }, () => world.host({ register: false })));
      await Promise.all(
        strangers.map((h, i) =>
          connectChannel({ host: "127.0.0.1", port: server.port, localAddress: `127.0.6.${i + 1}`, identity: h.identity, trust: world.trust(), handshakeTimeoutMs: 3000 }).then(
            () => expect.fail("an unregistered host must be refused"),
            () => undefined,
          ),
        ),
      );
      await pollUntil(() => (refused.get({ reason: "peer" }) === 10 ? true : undefined), { intervalMs: 5, timeoutMs: 5000 });
      holder.destroy();
      expect(refused.get({ reason: "limit_address" })).to.equal(40);
      expect(refused.get({ reason: "peer" })).to.equal(10);
      const warnings = () => log.records.filter((r) => r.level === "warn" || r.level === "error");
      expect(warnings().map((r) => r.msg)).to.deep.equal(Array(5).fill("peer refused"));
      await server.close();
      expect(warnings().map((r) => r.msg)).to.deep.equal([...Array(5).fill("peer refused"), "peer refused: suppressed"]);
      expect(log.find("peer refused: suppressed")[0]).to.deep.include({ suppressed: 45 });
      const bytes = warnings().reduce((sum, r) => sum + formatLogLine(r).length, 0);
      console.log(`      figures: ${refused.get({ reason: "limit_address" }) + refused.get({ reason: "peer" })} refused, ${warnings().length} warning lines (${bytes} bytes)`);
    } finally {
      await server.close();
    }
  });
});
