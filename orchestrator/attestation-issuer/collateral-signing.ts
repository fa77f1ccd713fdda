import type { KeyObject } from "node:crypto";
import { signRaw, type QeIdentity, type SignedQeIdentity, type SignedTcbInfo, type TcbInfo } from "../attestation/index.js";

/**
 * The provisioning service's signatures over the collateral it publishes: the TCB info and the QE identity, each
 * signed as its JSON text with the TCB signing key (what `verifyCollateral` and `verifyQeIdentity` check).
 */

export function signTcbInfo(tcbInfo: TcbInfo, signingKey: KeyObject): SignedTcbInfo {
  return { tcbInfo, signature: signRaw(signingKey, Buffer.from(JSON.stringify(tcbInfo), "utf8")).toString("hex") };
}

export function signQeIdentity(identity: QeIdentity, signingKey: KeyObject): SignedQeIdentity {
  return { enclaveIdentity: identity, signature: signRaw(signingKey, Buffer.from(JSON.stringify(identity), "utf8")).toString("hex") };
}
