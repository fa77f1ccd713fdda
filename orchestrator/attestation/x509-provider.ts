/**
 * The one place that loads @peculiar/x509: it needs reflect-metadata first, and node's WebCrypto as its
 * crypto provider. Every module of the attestation and channel code imports x509 from here.
 */
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };
