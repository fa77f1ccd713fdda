/**
 * TCB status of a TDX platform as Intel's quote verification library computes it:
 * 1. the platform level is the first TCB level (in the given order) whose SGX components and PCE SVN are
 *    all met by the PCK certificate, and whose TDX components are all met by the quote's TEE_TCB_SVN
 *    (bytes 0-1, the module SVN and major version, are skipped when the module major version is > 0:
 *    they are judged by the TDX module identity instead);
 * 2. with a module major version > 0, the module identity "TDX_<major>" must match MRSIGNERSEAM and
 *    SEAMATTRIBUTES (under the mask), and its first level whose ISVSVN is met by TEE_TCB_SVN[0] gives
 *    the module status;
 * 3. the two statuses converge: a Revoked module makes the TCB Revoked; an OutOfDate module makes an
 *    UpToDate/SWHardeningNeeded platform OutOfDate and a Configuration* platform OutOfDateConfigurationNeeded
 *    (the quote verifier then converges the QE identity's status the same way).
 */
import { QuoteVerificationError } from "./errors.js";
import type { TcbInfo, TcbLevel } from "./tcb-info.js";
import type { TcbStatus } from "./tcb-status.js";

export interface TcbEvaluationInput {
  readonly sgxTcbComponents: readonly number[];
  readonly pceSvn: number;
  readonly teeTcbSvn: Buffer;
  readonly mrSignerSeam: Buffer;
  readonly seamAttributes: Buffer;
}

export interface TcbEvaluation {
  readonly status: TcbStatus;
  readonly platformStatus: TcbStatus;
  readonly moduleStatus?: TcbStatus;
  /** The quoting enclave's status from the QE identity (set by the quote verifier). */
  readonly qeStatus?: TcbStatus;
  /** Index into tcbInfo.tcbLevels of the platform level that matched. */
  readonly levelIndex: number;
  readonly tcbDate: string;
  readonly advisoryIds: readonly string[];
}

function notSupported(message: string, details: Record<string, unknown>): QuoteVerificationError {
  return new QuoteVerificationError("ATTESTATION_TCB_NOT_SUPPORTED", message, { details });
}

function platformLevelMatches(level: TcbLevel, input: TcbEvaluationInput, tdxStart: number): boolean {
  const sgxOk = level.tcb.sgxtcbcomponents.every((c, i) => (input.sgxTcbComponents[i] ?? 0) >= c.svn);
  const tdxOk = level.tcb.tdxtcbcomponents.every((c, i) => i < tdxStart || input.teeTcbSvn[i]! >= c.svn);
  return sgxOk && tdxOk && input.pceSvn >= level.tcb.pcesvn;
}

function maskedEqual(a: Buffer, b: Buffer, mask: Buffer): boolean {
  if (a.length !== mask.length || b.length !== mask.length) return false;
  return a.every((byte, i) => (byte & mask[i]!) === (b[i]! & mask[i]!));
}

/**
 * Intel's convergence of the platform status with a component's (TDX module or QE) status: a Revoked
 * component revokes; an OutOfDate one makes UpToDate/SWHardeningNeeded OutOfDate and Configuration*
 * OutOfDateConfigurationNeeded.
 */
export function convergeTcbStatus(platform: TcbStatus, module: TcbStatus): TcbStatus {
  if (module === "Revoked") return "Revoked";
  if (module === "OutOfDate") {
    if (platform === "UpToDate" || platform === "SWHardeningNeeded") return "OutOfDate";
    if (platform === "ConfigurationNeeded" || platform === "ConfigurationAndSWHardeningNeeded") return "OutOfDateConfigurationNeeded";
  }
  return platform;
}

export function evaluateTcb(tcbInfo: TcbInfo, input: TcbEvaluationInput): TcbEvaluation {
  const major = input.teeTcbSvn[1]!;
  const tdxStart = major > 0 ? 2 : 0;
  const levelIndex = tcbInfo.tcbLevels.findIndex((level) => platformLevelMatches(level, input, tdxStart));
  if (levelIndex < 0) {
    throw notSupported("no TCB level is met by the platform", {
      sgxTcbComponents: input.sgxTcbComponents,
      pceSvn: input.pceSvn,
      teeTcbSvn: input.teeTcbSvn.toString("hex"),
    });
  }
  const level = tcbInfo.tcbLevels[levelIndex]!;
  if (major === 0) {
    const m = tcbInfo.tdxModule;
    if (!maskedEqual(input.mrSignerSeam, Buffer.from(m.mrsigner, "hex"), Buffer.alloc(48, 0xff)) ||
        !maskedEqual(input.seamAttributes, Buffer.from(m.attributes, "hex"), Buffer.from(m.attributesMask, "hex"))) {
      throw new QuoteVerificationError("ATTESTATION_TCB_INFO_MISMATCH", "TDX module signer or attributes do not match the TCB info", { details: {
        mrSignerSeam: input.mrSignerSeam.toString("hex"),
      } });
    }
    return { status: level.tcbStatus, platformStatus: level.tcbStatus, levelIndex, tcbDate: level.tcbDate, advisoryIds: level.advisoryIDs ?? [] };
  }
  const id = `TDX_${major.toString(16).toUpperCase().padStart(2, "0")}`;
  const identity = tcbInfo.tdxModuleIdentities.find((i) => i.id === id);
  if (!identity) throw notSupported(`TCB info has no TDX module identity ${id}`, { id, majorVersion: major });
  if (!maskedEqual(input.mrSignerSeam, Buffer.from(identity.mrsigner, "hex"), Buffer.alloc(48, 0xff)) ||
      !maskedEqual(input.seamAttributes, Buffer.from(identity.attributes, "hex"), Buffer.from(identity.attributesMask, "hex"))) {
    throw new QuoteVerificationError("ATTESTATION_TCB_INFO_MISMATCH", `TDX module signer or attributes do not match identity ${id}`, { details: {
      id,
      mrSignerSeam: input.mrSignerSeam.toString("hex"),
      seamAttributes: input.seamAttributes.toString("hex"),
    } });
  }
  const moduleSvn = input.teeTcbSvn[0]!;
  const moduleLevel = identity.tcbLevels.find((l) => moduleSvn >= l.tcb.isvsvn);
  if (!moduleLevel) throw notSupported(`TDX module SVN ${moduleSvn} is below every level of ${id}`, { id, moduleSvn });
  const status = convergeTcbStatus(level.tcbStatus, moduleLevel.tcbStatus);
  return {
    status,
    platformStatus: level.tcbStatus,
    moduleStatus: moduleLevel.tcbStatus,
    levelIndex,
    tcbDate: level.tcbDate,
    advisoryIds: [...new Set([...(level.advisoryIDs ?? []), ...(moduleLevel.advisoryIDs ?? [])])],
  };
}
