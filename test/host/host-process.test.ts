import { expect } from "chai";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Wallet } from "ethers";
import { deploySuite } from "../../deploy/deploy-suite.js";
import { connectChain, startLocalNode, type ChainConnection, type LocalNode } from "../../orchestrator/chain/index.js";
import { ControlClient } from "../../orchestrator/control/index.js";
import { createKeystore, LIGHT_SCRYPT_N } from "../../orchestrator/keystore/index.js";
import { codecReport } from "../../orchestrator/tdx/index.js";
import { POLICY } from "./helpers.js";

// The first default account of a Hardhat node (a public test key).
const DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ONE_ETH = 10n ** 18n;
const CLI = resolve(import.meta.dirname, "..", "..", "bin", "tvmx.mjs");

function runCli(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((res) => child.on("exit", (code) => res(code)));
  return { child, exited, out: () => stdout, err: () => stderr };
}

describe("host: a real daemon process started from its config file", function () {
  this.timeout(120_000);
  let node: LocalNode;
  let chain: ChainConnection;
  let dir: string;
  let configFile: string;

  before(async () => {
    node = await startLocalNode();
    chain = await connectChain({ rpcUrl: node.url, confirmations: 1, pollIntervalMs: 100, rpcRetries: 5 });
    const deployer = new Wallet(DEV_KEY, chain.provider);
    const suite = await deploySuite(deployer, { minStake: ONE_ETH, withdrawalDelay: 3600n, confirmationTimeout: 60n });
    dir = await mkdtemp(join(tmpdir(), "tvmx-hostproc-"));
    await writeFile(
      join(dir, "deployed_addresses.json"),
      JSON.stringify({ "TvmExchange#HostRegistry": suite.hostRegistry, "TvmExchange#MigrationAuction": suite.migrationAuction, "TvmExchange#AllocationRegistry": suite.allocationRegistry }),
    );
    const { address } = await createKeystore(join(dir, "host.key.json"), "correct horse", { scryptN: LIGHT_SCRYPT_N });
    await (await deployer.sendTransaction({ to: address, value: 5n * ONE_ETH })).wait();
    await writeFile(join(dir, "policy.json"), JSON.stringify(POLICY));
    await writeFile(join(dir, "platform.json"), JSON.stringify({ authoritySeed: "tvmx-proc-test", platformSeed: "proc-host" }));
    configFile = join(dir, "host.json");
    await writeFile(
      configFile,
      JSON.stringify({
        name: "proc-host",
        chain: { rpcUrl: node.url, pollIntervalMs: 100 },
        deploymentFile: "deployed_addresses.json",
        keystore: { path: "host.key.json", passwordEnv: "TVMX_TEST_PASSWORD" },
        channel: { listen: "127.0.0.1:0" },
        control: { port: 0 },
        metrics: { port: 0 },
        capacity: { tvmSlots: 2, memoryMiB: 256 },
        pricing: { strategy: "fixed", priceWei: "1000000000000000" },
        policyFile: "policy.json",
        platformFile: "platform.json",
        dataDir: "data",
      }),
    );
  });
  after(async () => {
    chain?.close();
    await node?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("starts, registers, answers the CLI and its control API, and stops cleanly on SIGTERM", async () => {
    const daemon = runCli(["host", "start", "--config", configFile], { TVMX_TEST_PASSWORD: "correct horse" });
    try {
      const deadline = Date.now() + 60_000;
      while (!daemon.out().includes("running:")) {
        if (Date.now() > deadline) throw new Error(`host did not start: ${daemon.err().slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const client = await ControlClient.fromDataDir(join(dir, "data"));
      const status = await client.get<{ registration: string; metricsUrl: string }>("/v1/status");
      expect(status.registration).to.equal("Active");
      const metrics = await (await fetch(status.metricsUrl)).text();
      expect(metrics).to.contain("tvmx_transactions_total{method=\"HostRegistry.register\",outcome=\"mined\"} 1");
      const cli = runCli(["host", "status", "--config", configFile, "--json"], {});
      expect(await cli.exited).to.equal(0);
      const printed = JSON.parse(cli.out());
      expect(printed).to.deep.include({ name: "proc-host", registration: "Active" });
      // The page codec the host's migrations use: the addon when it is built (and not disabled), else node:crypto.
      expect(printed.crypto.backend).to.equal(codecReport().backend);
      expect(printed.crypto.requested).to.be.oneOf(["auto", "native", "node"]);
      // Every log line is one JSON object.
      for (const line of daemon.err().trim().split("\n")) expect(() => JSON.parse(line), line).to.not.throw();
    } finally {
      daemon.child.kill("SIGTERM");
    }
    expect(await daemon.exited).to.equal(0);
    expect(daemon.err()).to.contain('"msg":"host stopped"');
  });

  it("refuses to start with a wrong keystore password, saying so", async () => {
    const daemon = runCli(["host", "start", "--config", configFile], { TVMX_TEST_PASSWORD: "wrong" });
    expect(await daemon.exited).to.equal(1);
    expect(daemon.err()).to.contain("error [KEYSTORE_WRONG_PASSWORD]: wrong password for keystore");
  });

  it("says which chain is unreachable", async () => {
    const bad = join(dir, "bad-chain.json");
    const { readFile } = await import("node:fs/promises");
    const config = JSON.parse(await readFile(configFile, "utf8"));
    config.chain = { rpcUrl: "http://127.0.0.1:1", rpcRetries: 1 };
    await writeFile(bad, JSON.stringify(config));
    const daemon = runCli(["host", "start", "--config", bad], { TVMX_TEST_PASSWORD: "correct horse" });
    expect(await daemon.exited).to.equal(1);
    expect(daemon.err()).to.contain("error [CHAIN_RPC_UNAVAILABLE]: chain RPC unavailable at http://127.0.0.1:1");
  });

  it("tells the CLI when no host is running", async () => {
    const cli = runCli(["host", "status", "--config", configFile], {});
    expect(await cli.exited).to.equal(1);
    expect(cli.err()).to.match(/error \[CONTROL_UNREACHABLE\]/);
  });
});
