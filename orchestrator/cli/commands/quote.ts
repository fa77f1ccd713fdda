/** `tvmx quote`: a TDX quote v4 from a simulated platform, written to a file. */
import { writeFile } from "node:fs/promises";
import {
  configQuoteSource,
  createAttester,
  defaultCollateral,
  defaultPlatformConfig,
  parsePlatformConfig,
  ProvisioningAuthority,
  provisionFromConfig,
} from "../../attestation-issuer/index.js";
import { readJsonFile } from "../args.js";
import { CliArgumentError } from "../errors.js";
import type { CliIo } from "../io.js";

export interface QuoteOptions {
  reportData: Buffer;
  out: string;
  platform?: string;
  rootOut?: string;
  collateralOut?: string;
}

async function write(path: string, data: string | Buffer, option: string): Promise<void> {
  try {
    await writeFile(path, data);
  } catch (cause) {
    throw new CliArgumentError(`${option}: cannot write ${path} (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message})`, { details: { option, path }, cause });
  }
}

export async function run(options: QuoteOptions, io: CliIo): Promise<number> {
  const config = options.platform ? parsePlatformConfig(await readJsonFile(options.platform, "--platform")) : defaultPlatformConfig();
  const authority = await ProvisioningAuthority.create({ seed: config.authoritySeed });
  const qe = await provisionFromConfig(config, authority);
  const quote = createAttester(configQuoteSource(config), qe).quote(options.reportData);
  await write(options.out, quote, "--out");
  io.out(`wrote a ${quote.length}-byte TDX quote v4 to ${options.out}`);
  if (options.rootOut) {
    await write(options.rootOut, authority.rootPem, "--root-out");
    io.out(`wrote the provisioning root certificate to ${options.rootOut}`);
  }
  if (options.collateralOut) {
    await write(options.collateralOut, JSON.stringify(await defaultCollateral(config, authority), null, 2), "--collateral-out");
    io.out(`wrote the collateral (signed TCB info) to ${options.collateralOut}`);
  }
  return 0;
}
