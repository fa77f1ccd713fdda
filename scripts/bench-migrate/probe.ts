/**
 * The link's own limits, measured in the same run as the migrations: the TCP round trip (a one-byte ping-pong on an
 * echo connection) and what one TCP connection moves over it (a sink that answers once it has the bytes).
 */
import { connect } from "node:net";
import type { Socket } from "node:net";
import { median } from "../../orchestrator/migration/metrics.js";

function open(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port }, () => resolve(s));
    s.once("error", reject);
  });
}

/** Median of `count` one-byte round trips, ms. */
export async function measureTcpRttMs(host: string, port: number, count = 21): Promise<number> {
  const s = await open(host, port);
  s.setNoDelay(true);
  try {
    s.write("e");
    const samples: number[] = [];
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      await new Promise<void>((resolve) => {
        s.once("data", () => resolve());
        s.write(Buffer.from([i & 0xff]));
      });
      samples.push(performance.now() - t0);
    }
    return median(samples.slice(1));
  } finally {
    s.destroy();
  }
}

/** One connection's rate, MB/s: `bytes` written until the sink confirms it received them all. */
export async function measureTcpRateMBps(host: string, port: number, bytes: number): Promise<number> {
  const s = await open(host, port);
  try {
    const header = Buffer.alloc(9);
    header.write("s", 0);
    header.writeBigUInt64LE(BigInt(bytes), 1);
    const done = new Promise<void>((resolve) => s.once("data", () => resolve()));
    const t0 = performance.now();
    s.write(header);
    const chunk = Buffer.alloc(1 << 20, 7);
    for (let sent = 0; sent < bytes; sent += chunk.length) {
      const piece = sent + chunk.length <= bytes ? chunk : chunk.subarray(0, bytes - sent);
      if (!s.write(piece)) await new Promise<void>((resolve) => s.once("drain", () => resolve()));
    }
    await done;
    return bytes / 1e6 / ((performance.now() - t0) / 1000);
  } finally {
    s.destroy();
  }
}
