import { expect } from "chai";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Wallet } from "ethers";
import { deploySuite, LOCAL_AUCTION_LIMITS } from "../../deploy/deploy-suite.js";
import { connectChain, startLocalNode, type ChainConnection, type LocalNode } from "../../orchestrator/chain/index.js";
import { ControlClient } from "../../orchestrator/control/index.js";
import { createKeystore, LIGHT_SCRYPT_N } from "../../orchestrator/keystore/index.js";
import { codecReport } from "../../orchestrator/tdx/index.js";
import { pollUntil } from "../../orchestrator/util/index.js";
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

/** Waits (up to 60 s) until a started daemon prints its "running:" line. */
async function untilRunning(daemon: ReturnType<typeof runCli>): Promise<void> {
  await pollUntil(() => (daemon.out().includes("running:") ? true : undefined), {
    intervalMs: 100,
    timeoutMs: 60_000,
    onTimeout: () => new Error(`host did not start: ${daemon.err().slice(-2000)}`),
  });
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
    const suite = await deploySuite(deployer, { minStake: ONE_ETH, withdrawalDelay: 3600n, confirmationTimeout: 60n, auctionLimits: LOCAL_AUCTION_LIMITS });
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
      await untilRunning(daemon);
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

  /** A variant of the config (and its files) written beside it; returns the new config's path. */
  async function variant(name: string, edit: (config: Record<string, unknown>) => Promise<void> | void): Promise<string> {
    const { readFile } = await import("node:fs/promises");
    const config = JSON.parse(await readFile(configFile, "utf8")) as Record<string, unknown>;
    await edit(config);
    const file = join(dir, `${name}.json`);
    await writeFile(file, JSON.stringify(config));
    return file;
  }

  /** Starts the daemon with `config`; it must refuse with exactly one line "error [code]: …". */
  async function expectRefusal(config: string, code: string, message: RegExp): Promise<string> {
    const daemon = runCli(["host", "start", "--config", config], { TVMX_TEST_PASSWORD: "correct horse" });
    expect(await daemon.exited, daemon.err()).to.equal(1);
    // stderr carries the JSON log lines, and the refusal as the one line of text
    const lines = daemon.err().trim().split("\n").filter((l) => !l.startsWith("{"));
    expect(lines, daemon.err()).to.have.length(1);
    expect(lines[0]).to.match(new RegExp(`^error \\[${code}\\]: `));
    expect(lines[0]).to.match(message);
    return lines[0]!;
  }

  it("refuses a node of another chain than the config's chain.chainId or the deployment file's chainId, in one line", async () => {
    await expectRefusal(
      await variant("wrong-config-chain", (c) => void ((c.chain as Record<string, unknown>).chainId = 11155111)),
      "CHAIN_WRONG_NETWORK",
      /chain\.chainId is 11155111 but the node at http:\/\/127\.0\.0\.1:\d+ serves chain 31337/,
    );
    const { readFile } = await import("node:fs/promises");
    const addresses = JSON.parse(await readFile(join(dir, "deployed_addresses.json"), "utf8")) as Record<string, string>;
    await writeFile(join(dir, "sepolia-deployment.json"), JSON.stringify({ chainId: "11155111", ...addresses }));
    await expectRefusal(
      await variant("wrong-deployment-chain", (c) => void (c.deploymentFile = "sepolia-deployment.json")),
      "CHAIN_WRONG_NETWORK",
      /deployment file .*sepolia-deployment\.json is for chain 11155111 but the node .* serves chain 31337/,
    );
  });

  it("refuses a deployment whose addresses have no code (a node restarted empty), naming the address", async () => {
    const empty = Wallet.createRandom().address;
    const { readFile } = await import("node:fs/promises");
    const addresses = JSON.parse(await readFile(join(dir, "deployed_addresses.json"), "utf8")) as Record<string, string>;
    await writeFile(join(dir, "empty-deployment.json"), JSON.stringify({ ...addresses, "TvmExchange#MigrationAuction": empty }));
    const { HostRegistryClient } = await import("../../orchestrator/chain/index.js");
    const { keystoreAddress } = await import("../../orchestrator/keystore/index.js");
    const registry = new HostRegistryClient(chain, addresses["TvmExchange#HostRegistry"]!);
    const hostAddress = await keystoreAddress(join(dir, "host.key.json"));
    const before = await registry.hostInfo(hostAddress);
    const nonceBefore = await chain.provider.getTransactionCount(hostAddress);
    const line = await expectRefusal(
      await variant("no-code", (c) => void (c.deploymentFile = "empty-deployment.json")),
      "CHAIN_NO_CONTRACT",
      /no contract code at 0x[0-9a-fA-F]{40} \(MigrationAuction\) on chain 31337/,
    );
    expect(line).to.contain(empty);
    // and the host sent nothing meanwhile (no registration update, no stake, no nonce used)
    expect(await registry.hostInfo(hostAddress)).to.deep.equal(before);
    expect(await chain.provider.getTransactionCount(hostAddress)).to.equal(nonceBefore);
  });

  it("refuses a mirror chain that is the auction chain itself", async () => {
    await expectRefusal(
      await variant("same-mirror", (c) => void (c.mirrorChain = { rpcUrl: node.url, deploymentFile: "deployed_addresses.json" })),
      "CHAIN_MIRROR_IS_AUCTION_CHAIN",
      /mirrorChain \(http:\/\/127\.0\.0\.1:\d+\) serves chain 31337, the auction chain itself/,
    );
  });

  it("answers `host status` from local state, the chain marked unavailable with its code and exit 3, while its node is stopped", async () => {
    // a node of its own, stopped in the middle of the test
    const own = await startLocalNode();
    const ownChain = await connectChain({ rpcUrl: own.url, confirmations: 1, pollIntervalMs: 100, rpcRetries: 5 });
    const deployer = new Wallet(DEV_KEY, ownChain.provider);
    const suite = await deploySuite(deployer, { minStake: ONE_ETH, withdrawalDelay: 3600n, confirmationTimeout: 60n, auctionLimits: LOCAL_AUCTION_LIMITS });
    await writeFile(
      join(dir, "own-deployment.json"),
      JSON.stringify({ "TvmExchange#HostRegistry": suite.hostRegistry, "TvmExchange#MigrationAuction": suite.migrationAuction, "TvmExchange#AllocationRegistry": suite.allocationRegistry }),
    );
    const { keystoreAddress } = await import("../../orchestrator/keystore/index.js");
    await (await deployer.sendTransaction({ to: await keystoreAddress(join(dir, "host.key.json")), value: 5n * ONE_ETH })).wait();
    ownChain.close();
    const config = await variant("own-node", (c) => {
      c.chain = { rpcUrl: own.url, pollIntervalMs: 100 };
      c.deploymentFile = "own-deployment.json";
      c.dataDir = "data-own-node";
    });
    const daemon = runCli(["host", "start", "--config", config], { TVMX_TEST_PASSWORD: "correct horse" });
    try {
      await untilRunning(daemon);
      const created = runCli(["td", "create", "--config", config, "--memory-mib", "4", "--json"], {});
      expect(await created.exited, created.err()).to.equal(0);
      const { tdId, tvmId } = JSON.parse(created.out()) as { tdId: string; tvmId: string };
      const up = runCli(["host", "status", "--config", config, "--json"], {});
      expect(await up.exited, up.err()).to.equal(0);
      expect(JSON.parse(up.out())).to.deep.include({ registration: "Active", chain: { url: own.url, available: true } });

      await own.stop();
      const started = Date.now();
      const json = runCli(["host", "status", "--config", config, "--json"], {});
      expect(await json.exited, json.err()).to.equal(3);
      expect(Date.now() - started).to.be.below(20_000);
      const s = JSON.parse(json.out()) as Record<string, unknown> & { chain: { available: boolean; error: { code: string; message: string } }; trustDomains: { tdId: string; tvmId: string }[]; journal: { dir: string } };
      expect(s.chain.available).to.equal(false);
      expect(s.chain.error.code).to.be.oneOf(["CHAIN_DEADLINE_PASSED", "CHAIN_RPC_UNAVAILABLE"]);
      expect(s.chain.error.message).to.contain(`chain RPC unavailable at ${own.url}`);
      expect(s.registration).to.equal("unknown");
      expect(s.trustDomains.map((t) => [t.tdId, t.tvmId])).to.deep.equal([[tdId, tvmId]]);
      expect(s).to.include({ name: "proc-host", tds: 1, migrationsInFlight: 0 });
      expect(s.pid).to.equal(daemon.child.pid);
      expect(s.controlPort).to.be.a("number");
      expect(s.journal.dir).to.contain("data-own-node");
      expect(json.err()).to.match(/^error \[CHAIN_(DEADLINE_PASSED|RPC_UNAVAILABLE)\]: the host's chain is unavailable; the status is the host's local state: chain RPC unavailable at /);

      const human = runCli(["host", "status", "--config", config], {});
      expect(await human.exited, human.err()).to.equal(3);
      expect(human.out()).to.match(new RegExp(`chain: +unavailable \\[CHAIN_[A-Z_]+\\] at ${own.url.replace(/\./g, "\\.")}`));
      expect(human.out()).to.match(/registration: +unknown \(the chain did not answer\)/);
      expect(human.out()).to.match(new RegExp(`process: +pid ${daemon.child.pid}`));
      expect(human.out()).to.match(/ports: +channel \d+, migration \d+, control \d+/);
      expect(human.out()).to.contain(tdId).and.contain(tvmId);
    } finally {
      daemon.child.kill("SIGTERM");
      await own.stop().catch(() => undefined);
    }
    expect(await daemon.exited).to.equal(0);
  });

  it("answers with coded errors, not an internal error, once its node has been restarted empty", async () => {
    const daemon = runCli(["host", "start", "--config", configFile], { TVMX_TEST_PASSWORD: "correct horse" });
    try {
      await untilRunning(daemon);
      const created = runCli(["td", "create", "--config", configFile, "--memory-mib", "4", "--json"], {});
      expect(await created.exited, created.err()).to.equal(0);
      const tdId = (JSON.parse(created.out()) as { tdId: string }).tdId;
      // The node restarts on the same port with nothing deployed (a development node does not persist).
      const port = Number(new URL(node.url).port);
      chain.close();
      await node.stop();
      node = await startLocalNode({ port });
      chain = await connectChain({ rpcUrl: node.url, confirmations: 1, pollIntervalMs: 100, rpcRetries: 5 });
      const outputs: string[] = [];
      for (const args of [
        ["host", "status"],
        ["auction", "list"],
        ["allocation", "show", `0x${"11".repeat(32)}`],
        ["migrate", tdId, "--timeout-sec", "60"],
      ]) {
        const cli = runCli([...args, "--config", configFile], {});
        const code = await cli.exited;
        const text = cli.out() + cli.err();
        outputs.push(`${args.join(" ")} -> ${code}: ${text}`);
        expect(text, args.join(" ")).to.not.contain("internal error in the host");
        expect(text, args.join(" ")).to.not.contain("could not decode result data");
        if (code !== 0) expect(cli.err(), text).to.match(/^error \[[A-Z][A-Z0-9_]+\]: /);
      }
      // the commands that must reach the contracts name the missing one
      expect(outputs.find((o) => o.startsWith("allocation show")), outputs.join("\n")).to.match(/error \[CHAIN_NO_CONTRACT\]: no contract code at 0x[0-9a-fA-F]{40} \(AllocationRegistry\)/);
      expect(outputs.find((o) => o.startsWith("migrate")), outputs.join("\n")).to.match(/CHAIN_NO_CONTRACT/);
    } finally {
      daemon.child.kill("SIGTERM");
    }
    expect(await daemon.exited).to.equal(0);
  });

  it("tells the CLI when no host is running", async () => {
    const cli = runCli(["host", "status", "--config", configFile], {});
    expect(await cli.exited).to.equal(1);
    expect(cli.err()).to.match(/error \[CONTROL_UNREACHABLE\]/);
  });
});
