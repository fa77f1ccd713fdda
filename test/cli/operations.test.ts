import { expect } from "chai";
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { id, JsonRpcProvider, Wallet } from "ethers";
import { freePort } from "../../orchestrator/chain/index.js";
import { createKeystore, LIGHT_SCRYPT_N } from "../../orchestrator/keystore/index.js";
import { TVMX_BIN } from "../../orchestrator/demo/host-process.js";
import { AllocationRegistry__factory } from "../../types/ethers-contracts/index.js";
import { ROOT, tvmx } from "../e2e/helpers.js";

/** The operation commands fed bad input, spawned as a user runs them (no chain or host needed). */
describe("tvmx operation commands: help, bad input, chain start and deploy", function () {
  this.timeout(120_000);
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tvmx-cli-ops-"));
  });

  it("lists every command in --help, and each command has its own --help", async () => {
    const r = await tvmx(["--help"]);
    expect(r.code).to.equal(0);
    for (const c of ["keystore", "chain", "deploy", "host", "td", "migrate", "auction", "allocation", "demo"]) expect(r.stdout).to.match(new RegExp(`^\\s+${c}\\b`, "m"));
    const version = await tvmx(["--version"]);
    expect(version.code).to.equal(0);
    expect(version.stdout.trim()).to.equal((JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { version: string }).version);
    const m = await tvmx(["migrate", "--help"]);
    expect(m.code).to.equal(0);
    expect(m.stdout).to.contain("--reserve-price <wei>");
    expect(m.stdout).to.contain("--downtime-ms <ms>");
    const td = await tvmx(["td", "--help"]);
    for (const c of ["create", "list", "show"]) expect(td.stdout).to.contain(c);
  });

  it("rejects bad arguments with a clear message and exit status 1", async () => {
    const cases: [string[], RegExp][] = [
      [["migrate", "td-1", "--data-dir", dir, "--reserve-price", "-5"], /--reserve-price.*positive whole number of wei/],
      [["migrate", "td-1", "--data-dir", dir, "--downtime-ms", "0"], /--downtime-ms.*integer from 1 to 600000/],
      [["td", "create", "--data-dir", dir, "--memory-mib", "lots"], /--memory-mib.*integer/],
      [["allocation", "show", "0x1234", "--data-dir", dir], /32 bytes of 0x-hex/],
      [["auction", "show", "first", "--data-dir", dir], /auction id/],
      [["deploy", "--rpc", "ftp://127.0.0.1"], /http or https URL/],
      [["deploy", "--mirror-recorder", "0x123"], /expected an address/],
      [["deploy", "--parameters", join(dir, "none.json")], /--parameters: cannot read .*none\.json as JSON/],
      [["deploy", "--confirmations", "0"], /--confirmations.*integer from 1 to 64/],
      [["chain", "start", "--port", "70000"], /integer from 1 to 65535/],
      [["host", "start"], /required option '--config <file>'/],
      [["td", "list"], /give --config <host config file> or --data-dir/],
      [["td", "list", "--config", "a.json", "--data-dir", dir], /either --config or --data-dir, not both/],
      [["frobnicate"], /unknown command 'frobnicate'/],
      // commander's own refusals, every kind of them
      [["--frobnicate"], /^error \[CLI_USAGE\]: unknown option '--frobnicate'/],
      [["host", "status", "--frobnicate"], /^error \[CLI_USAGE\]: unknown option '--frobnicate'/],
      [["migrate"], /^error \[CLI_USAGE\]: missing required argument 'td'/],
      [["migrate", "a", "b", "c"], /^error \[CLI_USAGE\]: too many arguments for 'migrate'/],
      [["host"], /^error \[CLI_USAGE\]: missing command for 'host' \(one of: start, status, transactions\)/],
      [["keystore"], /^error \[CLI_USAGE\]: missing command for 'keystore' \(one of: new, import, address\)/],
      [["td", "frobnicate"], /^error \[CLI_USAGE\]: unknown command 'frobnicate' for 'td' \(one of: create, list, show\)/],
    ];
    for (const [args, message] of cases) {
      const r = await tvmx(args);
      expect(r.code, args.join(" ")).to.equal(1);
      expect(r.stderr, args.join(" ")).to.match(message);
      // commander's own refusals and the handlers' alike: one line, "error [CODE]: message".
      expect(r.stderr, args.join(" ")).to.match(/^error \[CLI_(USAGE|BAD_ARGUMENT)\]: \S/);
      // and nothing else but the hint: no help text dumped, no stack
      const lines = r.stderr.trim().split("\n");
      expect(lines.slice(1), args.join(" ")).to.satisfy((rest: string[]) => rest.every((l) => l === "(run with --help for usage)"));
    }
  });

  it("says no host is running when the data directory has none, or the host is gone", async () => {
    const r = await tvmx(["host", "status", "--data-dir", dir]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/error \[CONTROL_UNREACHABLE\]: no running host found for data directory/);
    // a control file left by a host that died: nothing answers on its port
    const gone = join(dir, "gone");
    await mkdir(gone);
    await writeFile(join(gone, "control.json"), JSON.stringify({ port: await freePort(), pid: 999_999 }), { mode: 0o600 });
    await writeFile(join(gone, "control.token"), "ab".repeat(32), { mode: 0o600 });
    const t = await tvmx(["td", "list", "--data-dir", gone]);
    expect(t.code).to.equal(1);
    expect(t.stderr).to.match(/error \[CONTROL_UNREACHABLE\]: no host answering at http:\/\/127\.0\.0\.1:\d+/);
  });

  it("says the chain is unreachable (deploy, host start)", async () => {
    const port = await freePort();
    const d = await tvmx(["deploy", "--rpc", `http://127.0.0.1:${port}`]);
    expect(d.code).to.equal(1);
    expect(d.stderr).to.match(/error \[CHAIN_RPC_UNAVAILABLE\].*127\.0\.0\.1/);
    const { config, env } = await hostFiles(dir, "offline", `http://127.0.0.1:${port}`);
    const h = await tvmx(["host", "start", "--config", config], { env });
    expect(h.code).to.equal(1);
    expect(h.stderr).to.match(/error \[CHAIN_RPC_UNAVAILABLE\]/);
  });

  it("refuses to start a chain on a taken port instead of reporting the process already there as its node", async () => {
    const server = createServer((socket) => socket.destroy());
    await new Promise<void>((res) => server.listen(0, "127.0.0.1", () => res()));
    const port = (server.address() as AddressInfo).port;
    try {
      const r = await tvmx(["chain", "start", "--port", String(port)]);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.contain(`error [CHAIN_PORT_IN_USE]: port ${port} is taken`);
      expect(r.stdout).to.not.contain("answering on");
    } finally {
      await new Promise((res) => server.close(res));
    }
  });

  it("refuses a wrong keystore password, and a missing one, before touching the chain", async () => {
    const { config } = await hostFiles(dir, "locked", "http://127.0.0.1:1");
    const wrong = await tvmx(["host", "start", "--config", config], { env: { TVMX_TEST_PASSWORD: "not the password" } });
    expect(wrong.code).to.equal(1);
    expect(wrong.stderr).to.match(/error \[KEYSTORE_WRONG_PASSWORD\]/);
    const missing = await tvmx(["host", "start", "--config", config], { env: { TVMX_TEST_PASSWORD: "" } });
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.match(/error \[KEYSTORE_PASSWORD_MISSING\]/);
  });

  it("runs a local chain until SIGINT, and deploys the suite on it (a wrong keystore password refused)", async () => {
    const port = await freePort();
    const chain = spawn(process.execPath, [TVMX_BIN, "chain", "start", "--port", String(port), "--json"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    const exited = new Promise<number | null>((res) => chain.on("exit", (code) => res(code)));
    try {
      const started = await new Promise<{ url: string; pid: number; chainId: number }>((resolve, reject) => {
        let out = "";
        chain.stdout.on("data", (c: Buffer) => {
          out += c.toString();
          const line = out.split("\n").find((l) => l.includes('"event":"started"'));
          if (line) resolve(JSON.parse(line));
        });
        void exited.then((code) => reject(new Error(`chain start exited with ${code}`)));
      });
      expect(started).to.include({ url: `http://127.0.0.1:${port}`, chainId: 31337 });

      await createKeystore(join(dir, "deployer.json"), "deployer password", { scryptN: LIGHT_SCRYPT_N });
      const wrong = await tvmx(["deploy", "--rpc", started.url, "--keystore", join(dir, "deployer.json"), "--password-env", "TVMX_DEPLOYER_PASSWORD"], { env: { TVMX_DEPLOYER_PASSWORD: "guess" } });
      expect(wrong.code).to.equal(1);
      expect(wrong.stderr).to.match(/error \[KEYSTORE_WRONG_PASSWORD\]/);
      const half = await tvmx(["deploy", "--rpc", started.url, "--keystore", join(dir, "deployer.json")]);
      expect(half.code).to.equal(1);
      // no password option and no terminal to ask on: refused, saying where a password can come from
      expect(half.stderr).to.match(/^error \[KEYSTORE_PASSWORD_MISSING\]: no password for .*deployer\.json: give --password-env <VAR> or --password-file <file>/);

      const out = join(dir, "deployment.json");
      const badParameters = join(dir, "parameters.json");
      await writeFile(badParameters, JSON.stringify({ TvmExchange: { minStake: "0n" } }));
      const refused = await tvmx(["deploy", "--rpc", started.url, "--parameters", badParameters]);
      expect(refused.code).to.equal(1);
      expect(refused.stderr).to.match(/TvmExchange\.minStake must be a positive integer of wei/);
      const recorders = [Wallet.createRandom().address, Wallet.createRandom().address];
      const ok = await tvmx(["deploy", "--rpc", started.url, "--out", out, "--parameters", join(ROOT, "deploy/parameters/local.json"), "--mirror-recorder", recorders[0]!, "--mirror-recorder", recorders[1]!]);
      expect(ok.code, ok.stderr).to.equal(0);
      expect(ok.stdout).to.match(/HostRegistry:\s+0x[0-9a-fA-F]{40}/);
      const file = JSON.parse(await readFile(out, "utf8")) as Record<string, string>;
      expect(file.chainId).to.equal("31337");
      // log scans start at the deployment: the block recorded is at or before the contracts' creation
      const deploymentBlock = (file as unknown as { deploymentBlock: number }).deploymentBlock;
      expect(deploymentBlock).to.be.a("number");
      const probe = new JsonRpcProvider(started.url, undefined, { staticNetwork: true });
      try {
        expect(await probe.getCode(file.hostRegistry!, deploymentBlock)).to.equal("0x");
        expect(await probe.getCode(file.hostRegistry!)).to.not.equal("0x");
      } finally {
        probe.destroy();
      }
      expect(ok.stdout).to.contain(file.allocationRegistry);
      // The module grants the first recorder, the deployer the second.
      const provider = new JsonRpcProvider(started.url, undefined, { staticNetwork: true });
      try {
        const registry = AllocationRegistry__factory.connect(file.allocationRegistry!, provider);
        for (const r of recorders) expect(await registry.hasRole(id("MIRROR_RECORDER_ROLE"), r), r).to.equal(true);
        // chain fund: a keystore file and an address, from the node's first account, then from the deployer key
        const hostKey = join(dir, "fund-host.json");
        const { address: hostAddress } = await createKeystore(hostKey, "host password", { scryptN: LIGHT_SCRYPT_N });
        const other = Wallet.createRandom().address;
        const funded = await tvmx(["chain", "fund", hostKey, other, "--rpc", started.url, "--eth", "2.5", "--json"]);
        expect(funded.code, funded.stderr).to.equal(0);
        const report = JSON.parse(funded.stdout) as { chainId: string; funded: { address: string; balanceWei: string }[] };
        expect(report.chainId).to.equal("31337");
        expect(report.funded.map((f) => f.address)).to.deep.equal([hostAddress, other]);
        for (const a of [hostAddress, other]) expect(await provider.getBalance(a), a).to.equal(2_500_000_000_000_000_000n);
        const deployerAddress = (JSON.parse(await readFile(join(dir, "deployer.json"), "utf8")) as { address: string }).address;
        const fromDev = await tvmx(["chain", "fund", `0x${deployerAddress.replace(/^0x/, "")}`, "--rpc", started.url, "--eth", "1"]);
        expect(fromDev.code, fromDev.stderr).to.equal(0);
        const fromKey = await tvmx(["chain", "fund", other, "--rpc", started.url, "--eth", "0.5", "--keystore", join(dir, "deployer.json"), "--password-env", "TVMX_DEPLOYER_PASSWORD"], {
          env: { TVMX_DEPLOYER_PASSWORD: "deployer password" },
        });
        expect(fromKey.code, fromKey.stderr).to.equal(0);
        expect(fromKey.stdout).to.match(/sent 0\.5 ETH each from 0x[0-9a-fA-F]{40} on chain 31337/);
        expect(await provider.getBalance(other)).to.equal(3_000_000_000_000_000_000n);
        for (const [args, message] of [
          [[join(dir, "nothing-here.json")], /^error \[CLI_BAD_ARGUMENT\]: .*nothing-here\.json: neither an address nor a keystore file/],
          [[other, "--eth", "-1"], /^error \[CLI_BAD_ARGUMENT\]: --eth: expected/],
        ] as [string[], RegExp][]) {
          const r = await tvmx(["chain", "fund", ...args, "--rpc", started.url]);
          expect(r.code, args.join(" ")).to.equal(1);
          expect(r.stderr, args.join(" ")).to.match(message);
        }
      } finally {
        provider.destroy();
      }

      chain.kill("SIGINT");
      expect(await exited).to.equal(0);
      let nodeAlive = true;
      try {
        process.kill(started.pid, 0);
      } catch {
        nodeAlive = false;
      }
      expect(nodeAlive, "the node process outlived chain start").to.equal(false);
    } finally {
      chain.kill("SIGKILL");
    }
  });

  it("reports a broken host config naming the field", async () => {
    const file = join(dir, "broken.json");
    await writeFile(file, JSON.stringify({ name: "x", control: { port: 70000 } }));
    const r = await tvmx(["host", "start", "--config", file]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/error \[CONFIG_INVALID\]/);
    expect(r.stderr).to.contain("control.port");
    const s = await tvmx(["host", "status", "--config", join(dir, "nowhere.json")]);
    expect(s.code).to.equal(1);
    expect(s.stderr).to.match(/error \[CONFIG_NOT_FOUND\]/);
  });
});

/** A host config (with its keystore and policy) pointing at `rpcUrl`; the password comes from TVMX_TEST_PASSWORD. */
async function hostFiles(dir: string, name: string, rpcUrl: string): Promise<{ config: string; env: Record<string, string> }> {
  await createKeystore(join(dir, `${name}-key.json`), "right password", { scryptN: LIGHT_SCRYPT_N });
  await writeFile(join(dir, "policy.json"), JSON.stringify({ policyVersion: 1, acceptedTcbStatuses: ["UpToDate"] }));
  const config = join(dir, `${name}.json`);
  await writeFile(
    config,
    JSON.stringify({
      name,
      chain: { rpcUrl, rpcRetries: 1 },
      contracts: { hostRegistry: "0x5FbDB2315678afecb367f032d93F642f64180aa3", migrationAuction: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512", allocationRegistry: "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0" },
      keystore: { path: `${name}-key.json`, passwordEnv: "TVMX_TEST_PASSWORD" },
      channel: { listen: "127.0.0.1:0" },
      control: { port: 0 },
      capacity: { tvmSlots: 1, memoryMiB: 64 },
      pricing: { strategy: "fixed", priceWei: "1000" },
      policyFile: "policy.json",
      dataDir: `data-${name}`,
    }),
  );
  return { config, env: { TVMX_TEST_PASSWORD: "right password" } };
}
