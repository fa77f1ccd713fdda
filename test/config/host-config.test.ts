import { expect } from "chai";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadHostConfig, parseHostConfig, type ConfigIssue } from "../../orchestrator/config/index.js";
import { jsonErrorOffset, lineColumn } from "../../orchestrator/config/json-position.js";
import { TvmxError } from "../../orchestrator/errors/index.js";

const ADDR_A = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const ADDR_B = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512";
const ADDR_C = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0";

function validRaw(): Record<string, unknown> {
  return {
    name: "host-a",
    chain: { rpcUrl: "http://127.0.0.1:8545" },
    contracts: { hostRegistry: ADDR_A, migrationAuction: ADDR_B, allocationRegistry: ADDR_C },
    keystore: { path: "keys/host.json", passwordEnv: "TVMX_PASSWORD" },
    channel: { listen: "127.0.0.1:0" },
    control: { port: 0 },
    capacity: { tvmSlots: 4, memoryMiB: 2048 },
    pricing: { strategy: "scarcity", basePriceWei: "1000000000000000", fullPriceWei: "5000000000000000", exponent: 2 },
    policyFile: "policy.json",
    dataDir: "data",
  };
}

function issuesOf(raw: unknown): ConfigIssue[] {
  try {
    parseHostConfig(raw, "/etc/tvmx");
  } catch (err) {
    expect(err).to.be.instanceOf(TvmxError);
    expect((err as TvmxError).code).to.equal("CONFIG_INVALID");
    return (err as TvmxError).details.issues as ConfigIssue[];
  }
  expect.fail("the config was accepted");
}

describe("config/host config", () => {
  it("accepts a minimal config, fills the defaults and resolves paths against the file's directory", () => {
    const config = parseHostConfig(validRaw(), "/etc/tvmx");
    expect(config.keystore).to.deep.equal({ path: "/etc/tvmx/keys/host.json", password: { kind: "env", name: "TVMX_PASSWORD" } });
    expect(config.dataDir).to.equal("/etc/tvmx/data");
    expect(config.policyFile).to.equal("/etc/tvmx/policy.json");
    expect(config.channel.listen).to.deep.equal({ host: "127.0.0.1", port: 0 });
    expect(config.chain).to.deep.equal({ rpcUrl: "http://127.0.0.1:8545", confirmations: 1, pollIntervalMs: 500, rpcRetries: 5 });
    expect(config.pricing).to.deep.equal({ strategy: "scarcity", basePriceWei: 10n ** 15n, fullPriceWei: 5n * 10n ** 15n, exponent: 2, minFreeSlots: 0 });
    expect(config.migration).to.deep.equal({ downtimeTargetMs: 300, streams: 2, onFailure: "runner-up", peerTimeoutMs: 30_000 });
    expect(config.contracts.kind).to.equal("addresses");
    expect(config.metrics).to.equal(undefined);
    expect(config.mirrorChain).to.equal(undefined);
    expect(config.log.level).to.equal("info");
  });

  it("accepts a deployment file, a mirror chain, a password file and a metrics port", () => {
    const raw = validRaw();
    delete raw.contracts;
    raw.deploymentFile = "/abs/deployed_addresses.json";
    raw.mirrorChain = { rpcUrl: "http://127.0.0.1:8546", deploymentFile: "mirror.json", confirmations: 2 };
    raw.keystore = { path: "k.json", passwordFile: "secret/pw" };
    raw.metrics = { port: 9464 };
    raw.migration = { onFailure: "new-auction", downtimeTargetMs: 50 };
    const config = parseHostConfig(raw, "/etc/tvmx");
    expect(config.contracts).to.deep.equal({ kind: "deploymentFile", path: "/abs/deployed_addresses.json" });
    expect(config.mirrorChain).to.deep.include({ rpcUrl: "http://127.0.0.1:8546", confirmations: 2, deploymentFile: "/etc/tvmx/mirror.json" });
    expect(config.keystore.password).to.deep.equal({ kind: "file", path: "/etc/tvmx/secret/pw" });
    expect(config.metrics).to.deep.equal({ port: 9464 });
    expect(config.migration.onFailure).to.equal("new-auction");
    expect(config.migration.downtimeTargetMs).to.equal(50);
  });

  it("rejects a non-object root", () => {
    expect(issuesOf([1, 2])).to.deep.equal([{ field: "(root)", value: [1, 2], expected: "a JSON object" }]);
  });

  it("names the field and the value of a bad port", () => {
    const raw = validRaw();
    raw.control = { port: 70_000 };
    expect(issuesOf(raw)).to.deep.equal([{ field: "control.port", value: 70_000, expected: "an integer from 0 to 65535" }]);
  });

  it("names a missing required field", () => {
    const raw = validRaw();
    delete raw.dataDir;
    expect(issuesOf(raw)).to.deep.equal([{ field: "dataDir", value: undefined, expected: "a string" }]);
  });

  it("rejects a misspelled field instead of ignoring it", () => {
    const raw = validRaw();
    raw.capacity = { tvmSlots: 4, memoryMiB: 2048, memoryMb: 1 };
    const issues = issuesOf(raw);
    expect(issues).to.have.length(1);
    expect(issues[0]!.field).to.equal("capacity.memoryMb");
  });

  it("reports every bad field at once", () => {
    const raw = validRaw();
    raw.chain = { rpcUrl: "ftp://x" };
    raw.channel = { listen: "localhost" };
    raw.pricing = { strategy: "auction" };
    raw.contracts = { hostRegistry: "0x12", migrationAuction: ADDR_B, allocationRegistry: ADDR_C };
    const fields = issuesOf(raw).map((i) => i.field);
    expect(fields).to.deep.equal(["chain.rpcUrl", "contracts.hostRegistry", "channel.listen", "pricing.strategy"]);
  });

  it("reads the channel listener's limits, and refuses a per-peer limit above the total or a bad value", () => {
    const raw = validRaw();
    raw.channel = { listen: "127.0.0.1:0", limits: { handshakeTimeoutMs: 5000, maxPendingHandshakes: 32, maxPendingPerAddress: 4, maxPendingPerIdentity: 2 } };
    expect(parseHostConfig(raw, "/x").channel.limits).to.deep.equal({ handshakeTimeoutMs: 5000, maxPendingHandshakes: 32, maxPendingPerAddress: 4, maxPendingPerIdentity: 2 });
    expect(parseHostConfig(validRaw(), "/x").channel.limits).to.equal(undefined);
    raw.channel = { listen: "127.0.0.1:0", limits: { maxPendingHandshakes: 8, maxPendingPerAddress: 9, maxPendingPerIdentity: 0, handshakeTimeoutMs: 10, maxPending: 1 } };
    const issues = issuesOf(raw);
    expect(issues.map((i) => i.field)).to.have.members([
      "channel.limits.maxPending",
      "channel.limits.handshakeTimeoutMs",
      "channel.limits.maxPendingPerIdentity",
      "channel.limits.maxPendingPerAddress",
    ]);
    expect(issues.find((i) => i.field === "channel.limits.maxPendingPerAddress")!.expected).to.equal("an integer from 1 to channel.limits.maxPendingHandshakes (8)");
  });

  it("rejects an address whose checksum is wrong, and normalises a lower-case one", () => {
    const raw = validRaw();
    raw.contracts = { hostRegistry: ADDR_A.replace("F", "f"), migrationAuction: ADDR_B.toLowerCase(), allocationRegistry: ADDR_C };
    expect(issuesOf(raw).map((i) => i.field)).to.deep.equal(["contracts.hostRegistry"]);
    raw.contracts = { hostRegistry: ADDR_A, migrationAuction: ADDR_B.toLowerCase(), allocationRegistry: ADDR_C };
    const config = parseHostConfig(raw, "/x");
    expect(config.contracts).to.deep.include({ migrationAuction: ADDR_B });
  });

  it("rejects an amount of wei given as a float or a negative string", () => {
    const raw = validRaw();
    raw.pricing = { strategy: "fixed", priceWei: 1.5 };
    raw.auction = { bondWei: "-1" };
    const issues = issuesOf(raw);
    expect(issues.map((i) => [i.field, i.value])).to.deep.equal([
      ["pricing.priceWei", 1.5],
      ["auction.bondWei", "-1"],
    ]);
  });

  it("reads EIP-1559 fee caps (chain.fees) and refuses malformed ones naming the field", () => {
    const raw = validRaw();
    raw.chain = { rpcUrl: "http://127.0.0.1:8545", fees: { maxFeePerGasWei: "30000000000", maxPriorityFeePerGasWei: "2000000000" } };
    expect(parseHostConfig(raw, "/x").chain.fees).to.deep.equal({ maxFeePerGasWei: 30_000_000_000n, maxPriorityFeePerGasWei: 2_000_000_000n });
    expect(parseHostConfig(validRaw(), "/x").chain.fees).to.equal(undefined);
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ maxFeePerGasWei: "30 gwei" }, "chain.fees.maxFeePerGasWei", /an amount of wei >= 1/],
      [{ maxFeePerGasWei: "0" }, "chain.fees.maxFeePerGasWei", /an amount of wei >= 1/],
      [{ maxFeePerGasWei: 1.5 }, "chain.fees.maxFeePerGasWei", /an amount of wei/],
      [{ maxFeePerGasWei: "1000000000000000000" }, "chain.fees.maxFeePerGasWei", /from 1 to 1000000000000000 \(10\^6 gwei\)/],
      [{ maxFeePerGasWei: "1000", maxPriorityFeePerGasWei: "1001" }, "chain.fees.maxPriorityFeePerGasWei", /at most chain\.fees\.maxFeePerGasWei \(1000\)/],
      [{ maxPriorityFeePerGasWei: "-2" }, "chain.fees.maxPriorityFeePerGasWei", /an amount of wei >= 0/],
      [{ maxFeePerGas: "1000" }, "chain.fees.maxFeePerGas", /./],
    ];
    for (const [fees, field, expected] of cases) {
      const bad = validRaw();
      bad.chain = { rpcUrl: "http://127.0.0.1:8545", fees };
      const issues = issuesOf(bad);
      expect(issues.map((i) => i.field), JSON.stringify(fees)).to.deep.equal([field]);
      expect(issues[0]!.expected, JSON.stringify(fees)).to.match(expected);
    }
    // the mirror chain takes the same caps
    const mirror = validRaw();
    mirror.mirrorChain = { rpcUrl: "http://127.0.0.1:8546", allocationRegistry: ADDR_C, fees: { maxFeePerGasWei: "x" } };
    expect(issuesOf(mirror).map((i) => i.field)).to.deep.equal(["mirrorChain.fees.maxFeePerGasWei"]);
  });

  it("rejects a bond that is not a whole number of gwei", () => {
    const raw = validRaw();
    raw.auction = { bondWei: "1000000001" };
    expect(issuesOf(raw).map((i) => i.field)).to.deep.equal(["auction.bondWei"]);
  });

  it("rejects a full price below the base price", () => {
    const raw = validRaw();
    raw.pricing = { strategy: "scarcity", basePriceWei: "10", fullPriceWei: "5" };
    expect(issuesOf(raw).map((i) => i.field)).to.deep.equal(["pricing.fullPriceWei"]);
  });

  it("requires exactly one password source", () => {
    const both = validRaw();
    both.keystore = { path: "k", passwordEnv: "A", passwordFile: "f" };
    expect(issuesOf(both).map((i) => i.field)).to.deep.equal(["keystore.passwordFile"]);
    const none = validRaw();
    none.keystore = { path: "k" };
    expect(issuesOf(none).map((i) => i.field)).to.deep.equal(["keystore.passwordEnv"]);
  });

  it("requires contracts or a deployment file, not both", () => {
    const neither = validRaw();
    delete neither.contracts;
    expect(issuesOf(neither).map((i) => i.field)).to.deep.equal(["contracts"]);
    const both = validRaw();
    both.deploymentFile = "d.json";
    expect(issuesOf(both).map((i) => i.field)).to.deep.equal(["deploymentFile"]);
  });

  it("requires an allocation registry for the mirror chain", () => {
    const raw = validRaw();
    raw.mirrorChain = { rpcUrl: "http://127.0.0.1:8546" };
    expect(issuesOf(raw).map((i) => i.field)).to.deep.equal(["mirrorChain.allocationRegistry"]);
  });

  it("rejects an unknown failure policy and log level", () => {
    const raw = validRaw();
    raw.migration = { onFailure: "retry-forever" };
    raw.log = { level: "verbose" };
    expect(issuesOf(raw)).to.deep.equal([
      { field: "migration.onFailure", value: "retry-forever", expected: "one of runner-up, new-auction, none" },
      { field: "log.level", value: "verbose", expected: "one of debug, info, warn, error" },
    ]);
  });

  it("puts the field, the value and the expectation in the message", () => {
    const raw = validRaw();
    raw.capacity = { tvmSlots: -1, memoryMiB: 10 };
    expect(() => parseHostConfig(raw, "/x", "host.json")).to.throw(
      TvmxError,
      "host.json: 1 invalid field(s): capacity.tvmSlots: expected an integer from 0 to 1000000, got -1",
    );
  });
});

describe("config/loadHostConfig", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tvmx-config-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("loads a file and resolves its paths against its directory", async () => {
    const file = join(dir, "host.json");
    await writeFile(file, JSON.stringify(validRaw()));
    const config = await loadHostConfig(file);
    expect(config.dataDir).to.equal(join(dir, "data"));
  });

  it("reports a missing file", async () => {
    const err = await loadHostConfig(join(dir, "nope.json")).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(TvmxError).and.to.have.property("code", "CONFIG_NOT_FOUND");
  });

  it("reports a directory as unreadable", async () => {
    const err = await loadHostConfig(dir).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(TvmxError).and.to.have.property("code", "CONFIG_UNREADABLE");
  });

  it("reports invalid JSON with its line and column", async () => {
    const file = join(dir, "broken.json");
    await writeFile(file, '{\n  "name": "a",\n  "chain": }\n');
    const err = (await loadHostConfig(file).catch((e: unknown) => e)) as TvmxError;
    expect(err).to.be.instanceOf(TvmxError);
    expect(err.code).to.equal("CONFIG_SYNTAX");
    expect(err.details).to.include({ line: 3, column: 12 });
    expect(err.message).to.contain("line 3, column 12");
  });
});

describe("config/jsonErrorOffset", () => {
  it("finds no error in valid JSON", () => {
    for (const text of ['{"a":[1,-2.5e3,true,false,null,"x\\u00e9\\n"]}', " [] ", '"s"', "0"]) {
      expect(jsonErrorOffset(text), text).to.equal(undefined);
      expect(() => JSON.parse(text)).to.not.throw();
    }
  });

  it("points at the first bad character", () => {
    expect(jsonErrorOffset('{"a": }')).to.equal(6);
    expect(jsonErrorOffset('{"a": 1,}')).to.equal(8);
    expect(jsonErrorOffset("[1 2]")).to.equal(3);
    expect(jsonErrorOffset('{"a": tru}')).to.equal(6);
    expect(jsonErrorOffset('{"a": 01}')).to.equal(7);
    expect(jsonErrorOffset('{"a": "x')).to.equal(8);
    expect(jsonErrorOffset("")).to.equal(0);
    expect(jsonErrorOffset("{} x")).to.equal(3);
  });

  it("gives 1-based lines and columns", () => {
    expect(lineColumn("ab\ncd", 4)).to.deep.equal({ line: 2, column: 2 });
    expect(lineColumn("ab", 0)).to.deep.equal({ line: 1, column: 1 });
  });
});
