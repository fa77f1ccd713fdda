/**
 * A migration worker thread: runs the memory leaves (TDH.EXPORT.MEM and the import leaves) of the streams bound to
 * it, on TDs reopened from their shared handles. Leaves report failures as TDX statuses in the result; only a
 * programmer error (unknown TD, malformed descriptor) fails the descriptor itself.
 */
import { codecReport, memBundleSize, openTdShared, tdStateDigest, TdxModule } from "../tdx/index.js";
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
    case "codec":
      return { result: codecReport() };
    case "digest":
      return { result: tdStateDigest(tdOf(d.tdId)).toString("hex") };
    case "close-td":
      tds.delete(d.tdId);
      return { result: true };
    case "export-mem": {
      const td = tdOf(d.tdId);
      const gpas = new Uint32Array(d.gpas);
      const needed = memBundleSize(gpas.length);
      // A recycled buffer when the main thread returned one (fresh memory is slow: the kernel zeroes each page).
      const out = d.out && d.out.byteLength >= needed ? Buffer.from(d.out) : Buffer.allocUnsafeSlow(needed);
      const r = tdxModule.exportMem(td, d.stream, gpas, out);
      const exported = r.bundle !== undefined && r.pages > 0;
      const result: ExportMemOutcome = {
        status: r.status,
        bundle: exported ? (out.buffer as ArrayBuffer) : null,
        bundleBytes: exported ? r.bundle!.byteLength : 0,
        pages: r.pages,
        skipped: r.skipped,
      };
      return { result, transfer: exported ? [out.buffer as ArrayBuffer] : [] };
    }
    case "import-bundle": {
      const td = tdOf(d.tdId);
      const r = tdxModule.importBundle(td, d.stream, new Uint8Array(d.bundle));
      const result: ImportBundleOutcome = { status: r.status, mbType: r.mbType, pages: r.pages, start: r.start, buffer: d.bundle };
      return { result, transfer: [d.bundle] };
    }
    default:
      throw new WorkerError("unknown work descriptor", { kind: (d as { kind?: unknown }).kind });
  }
});
