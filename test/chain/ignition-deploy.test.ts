import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { id, JsonRpcProvider, Network, parseEther, Wallet } from "ethers";
import { projectArtifactResolver } from "../../orchestrator/chain/ignition/artifact-resolver.js";
import { deploySuiteWithIgnition } from "../../orchestrator/chain/ignition/deploy-suite-module.js";
import { startLocalNode, type LocalNode } from "../../orchestrator/chain/local-node.js";
import { TvmxError } from "../../orchestrator/errors/index.js";
import { AllocationRegistry__factory, HostRegistry__factory, MigrationAuction__factory } from "../../types/ethers-contracts/index.js";

const PARAMS = { minStake: 2n * 10n ** 18n, withdrawalDelay: 120n, confirmationTimeout: 60n };

describe("the suite deployed by Hardhat Ignition's engine over JSON-RPC (tvmx deploy)", function () {
  this.timeout(120_000);
  let node: LocalNode;
  let provider: JsonRpcProvider;
  let dir: string;

  before(async () => {
    node = await startLocalNode();
    provider = new JsonRpcProvider(node.url, Network.from(node.chainId), { staticNetwork: true });
    dir = await mkdtemp(join(tmpdir(), "tvmx-ignition-"));
  });
  after(async () => {
    provider?.destroy();
    await node?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("deploys and wires the module's contracts from the node's first account, with the parameters given", async () => {
    const suite = await deploySuiteWithIgnition({ rpcUrl: node.url, chainId: BigInt(node.chainId), parameters: PARAMS });
    const accounts = (await provider.send("eth_accounts", [])) as string[];
    expect(suite.deployer.toLowerCase()).to.equal(accounts[0]!.toLowerCase());
    const hosts = HostRegistry__factory.connect(suite.hostRegistry, provider);
    const allocations = AllocationRegistry__factory.connect(suite.allocationRegistry, provider);
    const auction = MigrationAuction__factory.connect(suite.migrationAuction, provider);
    expect(await hosts.minStake()).to.equal(PARAMS.minStake);
    expect(await allocations.hasRole(id("ALLOCATOR_ROLE"), suite.migrationAuction)).to.equal(true);
    // Not asked to record mirrors, the deployer records none.
    expect(await allocations.hasRole(id("MIRROR_RECORDER_ROLE"), suite.deployer)).to.equal(false);
    expect((await auction.hostRegistry()).toLowerCase()).to.equal(suite.hostRegistry.toLowerCase());
  });

  it("signs with a keystore wallet itself: the wallet deploys and holds the roles, the node's accounts none", async () => {
    const wallet = Wallet.createRandom();
    const funder = await provider.getSigner(0);
    await (await funder.sendTransaction({ to: wallet.address, value: parseEther("10") })).wait();
    const mirror = Wallet.createRandom().address;
    const suite = await deploySuiteWithIgnition({
      rpcUrl: node.url,
      chainId: BigInt(node.chainId),
      wallet: new Wallet(wallet.privateKey),
      parameters: { ...PARAMS, mirrorRecorders: [mirror] },
    });
    expect(suite.deployer).to.equal(wallet.address);
    const hosts = HostRegistry__factory.connect(suite.hostRegistry, provider);
    const allocations = AllocationRegistry__factory.connect(suite.allocationRegistry, provider);
    expect(await hosts.hasRole(await hosts.DEFAULT_ADMIN_ROLE(), wallet.address)).to.equal(true);
    expect(await hosts.hasRole(await hosts.DEFAULT_ADMIN_ROLE(), await funder.getAddress())).to.equal(false);
    expect(await allocations.hasRole(id("MIRROR_RECORDER_ROLE"), mirror)).to.equal(true);
    expect(await provider.getTransactionCount(wallet.address)).to.be.greaterThan(3);
  });

  it("resumes from its deployment directory: a second run finds everything done and sends nothing", async () => {
    const deploymentDir = join(dir, "resumable");
    const first = await deploySuiteWithIgnition({ rpcUrl: node.url, chainId: BigInt(node.chainId), parameters: PARAMS, deploymentDir });
    const nonce = await provider.getTransactionCount(first.deployer);
    const second = await deploySuiteWithIgnition({ rpcUrl: node.url, chainId: BigInt(node.chainId), parameters: PARAMS, deploymentDir });
    expect(second).to.deep.equal(first);
    expect(await provider.getTransactionCount(first.deployer)).to.equal(nonce);
    // The same directory with other parameters is another deployment: refused, not silently mixed.
    const changed = await deploySuiteWithIgnition({ rpcUrl: node.url, chainId: BigInt(node.chainId), parameters: { ...PARAMS, minStake: 1n }, deploymentDir }).catch((e: unknown) => e);
    expect(changed).to.be.instanceOf(TvmxError);
    expect((changed as TvmxError).code).to.equal("DEPLOYMENT_INVALID");
    expect((changed as TvmxError).message).to.match(/different deployment.*HostRegistry/);
  });

  it("names a parameter of the wrong type, and a deployer without funds, in its error", async () => {
    const invalid = await deploySuiteWithIgnition({ rpcUrl: node.url, chainId: BigInt(node.chainId), parameters: { ...PARAMS, minStake: "lots" } }).catch((e: unknown) => e);
    expect(invalid).to.be.instanceOf(TvmxError);
    expect((invalid as TvmxError).code).to.equal("DEPLOYMENT_INVALID");
    expect((invalid as TvmxError).message).to.match(/TvmExchange.minStake must be a positive integer of wei/);
    const broke = await deploySuiteWithIgnition({ rpcUrl: node.url, chainId: BigInt(node.chainId), wallet: Wallet.createRandom() as unknown as Wallet, parameters: PARAMS }).catch((e: unknown) => e);
    expect(broke).to.be.instanceOf(TvmxError);
    expect((broke as TvmxError).code).to.equal("DEPLOYMENT_FAILED");
    expect((broke as TvmxError).message).to.match(/funds|balance/i);
    const stranger = await deploySuiteWithIgnition({ rpcUrl: node.url, chainId: BigInt(node.chainId), parameters: { ...PARAMS, owner: "me" } }).catch((e: unknown) => e);
    expect((stranger as TvmxError).message).to.match(/no parameter owner/);
  });

  it("reads artifacts from the build output and says to build when one is missing", async () => {
    const resolver = projectArtifactResolver(join(import.meta.dirname, "..", "..", "artifacts"));
    const artifact = await resolver.loadArtifact("HostRegistry");
    expect(artifact.contractName).to.equal("HostRegistry");
    expect(artifact.bytecode).to.match(/^0x[0-9a-f]+$/);
    const missing = await projectArtifactResolver(dir).loadArtifact("HostRegistry").catch((e: unknown) => e);
    expect((missing as TvmxError).code).to.equal("DEPLOYMENT_NOT_FOUND");
    expect((missing as TvmxError).message).to.match(/npx hardhat build/);
    const odd = await resolver.loadArtifact("../secrets").catch((e: unknown) => e);
    expect((odd as TvmxError).code).to.equal("DEPLOYMENT_INVALID");
  });
});
