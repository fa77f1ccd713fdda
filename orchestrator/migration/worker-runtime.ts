/**
 * The worker side of the pool: receives work descriptors in order, runs the handler, posts the result back
 * (with the buffers to transfer), and reports a thrown error as a failed result instead of dying.
 */
import { parentPort } from "node:worker_threads";
import type { WorkRequestMessage, WorkResultMessage } from "./worker-pool.js";

export interface WorkOutcome {
  result: unknown;
  transfer?: ArrayBuffer[];
}

export type WorkHandler = (descriptor: unknown) => WorkOutcome | Promise<WorkOutcome>;

export function serveWorkDescriptors(handler: WorkHandler): void {
  const port = parentPort;
  if (!port) throw new TypeError("serveWorkDescriptors must run inside a worker thread");
  // Descriptors are handled strictly one after another: a stream's context must see them in order.
  let chain: Promise<void> = Promise.resolve();
  port.on("message", (message: WorkRequestMessage) => {
    chain = chain.then(async () => {
      let reply: WorkResultMessage;
      let transfer: ArrayBuffer[] = [];
      try {
        const outcome = await handler(message.descriptor);
        reply = { seq: message.seq, ok: true, result: outcome.result };
        transfer = outcome.transfer ?? [];
      } catch (err) {
        const e = err as Error & { code?: string; details?: unknown };
        reply = {
          seq: message.seq,
          ok: false,
          error: { name: e?.name ?? "Error", message: e?.message ?? String(err), code: e?.code, details: safeDetails(e?.details) },
        };
      }
      port.postMessage(reply, transfer);
    });
  });
  port.postMessage({ ready: true });
}

function safeDetails(details: unknown): unknown {
  try {
    return structuredClone(details);
  } catch {
    return String(details);
  }
}
