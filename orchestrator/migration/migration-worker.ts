/**
 * A migration worker thread: runs the memory leaves (TDH.EXPORT.MEM and the import leaves) of the streams bound to
 * it, on TDs reopened from their shared handles. Leaves report failures as TDX statuses in the result; only a
 * programmer error (unknown TD, malformed descriptor) fails the descriptor itself.
 */
import { memBundleSize, openTdShared, TdxModule } from "../tdx/index.js";
import type { TrustDomain } from "../tdx/index.js";
import { WorkerError } from "./errors.js";
import type { ExportMemOutcome, ImportBundleOutcome, WorkDescriptor } from "./work-descriptors.js";
import { serveWorkDescriptors } from "./worker-runtime.js";

// No signing key: TDH.MIG.INITIATE stays with the platform on the main thread.
const tdxModule = new TdxModule();
const tds = new Map<string, TrustDomain>();

function tdOf(tdId: string): TrustDomain {
  const td = tds.get(tdId);
  if (!td) throw new WorkerError("TD not opened in this worker", { tdId });
  return td;
}

serveWorkDescriptors((raw) => {
  const d = raw as WorkDescriptor;
  switch (d.kind) {
    case "open-td":
      tds.set(d.handle.id, openTdShared(d.handle));
      return { result: true };
    case "close-td":
      tds.delete(d.tdId);
      return { result: true };
    case "export-mem": {
      const td = tdOf(d.tdId);
      const gpas = new Uint32Array(d.gpas);
      // Each bundle gets its own buffer so it can move to the main thread (and on to the socket) without a copy.
      const out = Buffer.allocUnsafeSlow(memBundleSize(gpas.length));
      const r = tdxModule.exportMem(td, d.stream, gpas, out);
      let bundle: ArrayBuffer | null = null;
      if (r.bundle !== undefined && r.pages > 0) {
        bundle = out.buffer.byteLength === r.bundle.byteLength ? out.buffer : out.buffer.slice(0, r.bundle.byteLength);
      }
      const result: ExportMemOutcome = { status: r.status, bundle, pages: r.pages, skipped: r.skipped };
      return { result, transfer: bundle ? [bundle] : [] };
    }
    case "import-bundle": {
      const td = tdOf(d.tdId);
      const r = tdxModule.importBundle(td, d.stream, new Uint8Array(d.bundle));
      const result: ImportBundleOutcome = { status: r.status, mbType: r.mbType, pages: r.pages, start: r.start };
      return { result };
    }
    default:
      throw new WorkerError("unknown work descriptor", { kind: (d as { kind?: unknown }).kind });
  }
});
