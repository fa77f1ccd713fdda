/**
 * The loopback TCP ceiling of one connection with both ends in this process (one thread): a sender writing 1 MiB
 * chunks as fast as the socket drains them and a receiver counting bytes, for `durationMs`. The migration stream
 * cannot beat this on one connection; it is measured in the same run as the migration it is compared with.
 */
import { once } from "node:events";
import { createServer, connect, type AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";

export interface TcpLimit {
  mbPerSec: number;
  bytes: number;
  elapsedMs: number;
}

export async function measureLoopbackTcpLimit(options: { durationMs?: number; chunkBytes?: number } = {}): Promise<TcpLimit> {
  const durationMs = options.durationMs ?? 500;
  const chunk = Buffer.alloc(options.chunkBytes ?? 1024 * 1024, 0x5a);
  let received = 0;
  const server = createServer((socket) => {
    socket.on("data", (data: Buffer) => {
      received += data.length;
    });
    socket.on("error", () => {});
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const client = connect({ host: "127.0.0.1", port, noDelay: true });
  await once(client, "connect");
  try {
    // Warm-up, then the measured window: the byte count is taken at the receiver.
    const pump = async (untilMs: number): Promise<void> => {
      while (performance.now() < untilMs) {
        if (!client.write(chunk)) await once(client, "drain");
      }
    };
    await pump(performance.now() + Math.min(100, durationMs / 4));
    const startBytes = received;
    const start = performance.now();
    await pump(start + durationMs);
    const elapsedMs = performance.now() - start;
    const bytes = received - startBytes;
    return { mbPerSec: bytes / 1e6 / (elapsedMs / 1000), bytes, elapsedMs };
  } finally {
    client.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
