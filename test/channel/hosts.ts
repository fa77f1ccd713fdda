/**
 * Test hosts for the channel: one shared simulated provisioning authority (the trusted root), platforms
 * provisioned by it, host wallets, channel identities, and the trust every host applies.
 */
import { Wallet } from "ethers";
import { type AttestationPolicy } from "../../orchestrator/attestation/index.js";
import {
  configQuoteSource,
  createAttester,
  defaultPlatformConfig,
  defaultTcbInfo,
  ProvisioningAuthority,
  QuotingEnclave,
  platformTcbOf,
  type PlatformConfig,
} from "../../orchestrator/attestation-issuer/index.js";
import { createChannelIdentity, StaticHostDirectory, type ChannelIdentity, type ChannelTrust } from "../../orchestrator/channel/index.js";

export const BASE_POLICY: AttestationPolicy = {
  policyVersion: 1,
  acceptedTcbStatuses: ["UpToDate", "SWHardeningNeeded"],
  tdxModuleMajorVersions: [1],
  tdAttributes: { value: "0000000000000000", mask: "0100000000000000" },
};

export interface TestWorld {
  authority: ProvisioningAuthority;
  directory: StaticHostDirectory;
  trust(policy?: AttestationPolicy): ChannelTrust;
  /** A host with a registered wallet; `register: false` leaves it out of the directory. */
  host(options?: { td?: Partial<PlatformConfig["td"]>; register?: boolean; authority?: ProvisioningAuthority }): Promise<TestHost>;
}

export interface TestHost {
  wallet: Wallet;
  identity: ChannelIdentity;
  config: PlatformConfig;
  qe: QuotingEnclave;
}

export async function createWorld(): Promise<TestWorld> {
  const authority = await ProvisioningAuthority.create();
  const directory = new StaticHostDirectory();
  const collateral = authority.collateral(defaultTcbInfo());
  let n = 0;
  return {
    authority,
    directory,
    trust: (policy = BASE_POLICY) => ({ trustedRoots: [authority.rootCertificate], collateral, policy, directory }),
    async host(options = {}) {
      n += 1;
      const base = defaultPlatformConfig();
      const config: PlatformConfig = { ...base, platformSeed: `test-platform-${n}`, td: { ...base.td, ...(options.td ?? {}) } };
      const qe = await QuotingEnclave.provision(options.authority ?? authority, platformTcbOf(config));
      const wallet = Wallet.createRandom();
      const identity = await createChannelIdentity({ attester: createAttester(configQuoteSource(config), qe), signer: wallet });
      if (options.register !== false) directory.set(wallet.address, { registered: true });
      return { wallet: wallet as unknown as Wallet, identity, config, qe };
    },
  };
}
