/**
 * The `tvmx` command line. Every command is declared here (name, arguments, options, help); its handler
 * is a module under ./commands/ that exports `run(args…, options, io)`, loaded only when the command runs.
 * Adding a command = one declaration below + its handler module.
 */
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { hexBytes } from "./args.js";
import { address, auctionId, bytes32, intIn, rpcUrl, weiAmount } from "./commands/parsers.js";
import { processIo, type CliIo } from "./io.js";
import { runHandler } from "./run-handler.js";
import { loadWithBindings } from "../demo/load-suite.js";

/** This checkout's package version (package.json two levels up). */
const VERSION = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;

export function buildProgram(io: CliIo = processIo): Command {
  const program = new Command("tvmx")
    .description("TVM Exchange: live migration of confidential VMs between operators, placed by an on-chain auction")
    .version(VERSION, "-V, --version", "print the version")
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({
      writeOut: (s) => io.out(s),
      writeErr: (s) => io.err(s),
      // commander's own refusals (unknown option, missing or invalid argument) in the project's one error format.
      outputError: (s, write) => write(`error [CLI_USAGE]: ${s.replace(/^error: /, "")}`),
    });

  program
    .command("quote")
    .description("write a TDX quote v4 from a simulated platform")
    .requiredOption("--report-data <hex>", "REPORTDATA, up to 64 bytes of hex (zero-padded)", hexBytes(64, { pad: true }))
    .requiredOption("--out <file>", "where to write the quote (binary)")
    .option("--platform <config.json>", "platform description (TCB, TD measurements, seeds); defaults to the built-in platform")
    .option("--root-out <file>", "also write the provisioning root certificate (PEM) a verifier must trust")
    .option("--collateral-out <file>", "also write the collateral (signed TCB info and its issuer chain, JSON)")
    .action(runHandler(io, () => import("./commands/quote.js")));

  program
    .command("verify-quote")
    .description("parse and verify a TDX quote: fields, signature chain, TCB status and policy verdict")
    .argument("<file>", "the quote (binary)")
    .option("--policy <file>", "policy JSON to evaluate (see docs/attestation.md)")
    .option("--root <cert.pem>", "trusted root certificate(s), PEM; defaults to the built-in simulated root")
    .option("--collateral <file>", "collateral JSON (as written by `tvmx quote --collateral-out`); defaults to the built-in one")
    .option("--authority-seed <seed>", "seed of the simulated provisioning service for the default root and collateral")
    .option("--json", "machine-readable output")
    .action(runHandler(io, () => import("./commands/verify-quote.js")));

  declareKeystoreCommands(program, io);
  declareOperationCommands(program, io);
  requireSubcommands(program);
  return program;
}

/**
 * A command group run without one of its commands (`tvmx host`) is a usage error like any other, in the one error
 * format (commander would print the group's help and exit 1 with no error line): its `action` names the commands.
 */
function requireSubcommands(cmd: Command): void {
  for (const sub of cmd.commands) {
    if (sub.commands.length === 0) continue;
    requireSubcommands(sub);
    const names = sub.commands.map((c) => c.name()).filter((n) => n !== "help");
    sub.allowExcessArguments(true).action((_options: unknown, self: Command) => {
      const given = self.args[0];
      self.error(given === undefined ? `missing command for '${self.name()}' (one of: ${names.join(", ")})` : `unknown command '${given}' for '${self.name()}' (one of: ${names.join(", ")})`, {
        code: "commander.missingSubcommand",
        exitCode: 1,
      });
    });
  }
}

/** Options naming the running host a command talks to (through its control API). */
function hostTarget(cmd: Command): Command {
  return cmd
    .option("--config <file>", "the host's config file (its data directory holds the control API's port and token)")
    .option("--data-dir <dir>", "the host's data directory, instead of --config");
}

/** Loads a handler whose imports rest on the contract bindings (a clear error when they are not built). */
function bound(load: () => Promise<Record<string, unknown>>) {
  return () => loadWithBindings(load) as Promise<{ run: (...args: unknown[]) => Promise<number | void> }>;
}

/** Handler modules export several commands: pick one export as the command's `run`. */
function pick(load: () => Promise<Record<string, unknown>>, name: string) {
  return async () => ({ run: (await loadWithBindings(load))[name] as (...args: unknown[]) => Promise<number | void> });
}

/** Password options shared by the commands that encrypt a key file. */
function passwordOptions(cmd: Command): Command {
  return cmd
    .option("--password-env <VAR>", "environment variable holding the password")
    .option("--password-file <file>", "file holding the password (a trailing newline is dropped)");
}

/** keystore new, import, address: the encrypted key files host configs and `tvmx deploy` name. */
function declareKeystoreCommands(program: Command, io: CliIo): void {
  const keystore = program
    .command("keystore")
    .description("encrypted key files (Web3 Secret Storage JSON): new, import, address; the password comes from --password-env, --password-file or a prompt");
  const scryptN = (cmd: Command) =>
    cmd
      .option("--scrypt-n <N>", "scrypt cost, a power of two (2^17 by default, ~1 s to unlock; 1024 only for throw-away local keys)", intIn(2, 2 ** 20))
      .option("--force", "replace an existing file")
      .option("--json", "print the file and address as one JSON line");
  scryptN(passwordOptions(keystore.command("new").description("write a new random key, encrypted").argument("<file>", "key file to write (mode 0600)")))
    .action(runHandler(io, pickPlain(() => import("./commands/keystore.js"), "newKeystore")));
  scryptN(passwordOptions(keystore.command("import").description("encrypt an existing private key").argument("<file>", "key file to write (mode 0600)")))
    .option("--private-key-env <VAR>", "environment variable holding the private key (0x-hex)")
    .option("--private-key-file <file>", "file holding the private key (0x-hex)")
    .action(runHandler(io, pickPlain(() => import("./commands/keystore.js"), "importKeystore")));
  keystore
    .command("address")
    .description("print the address of a key file (no password needed)")
    .argument("<file>", "key file")
    .option("--json", "print the file and address as one JSON line")
    .action(runHandler(io, pickPlain(() => import("./commands/keystore.js"), "showAddress")));
}

/** Like pick, for a handler module that does not need the contract bindings. */
function pickPlain(load: () => Promise<Record<string, unknown>>, name: string) {
  return async () => ({ run: (await load())[name] as (...args: unknown[]) => Promise<number | void> });
}

/** chain, deploy, host, td, migrate, auction, allocation, demo: running the exchange. */
function declareOperationCommands(program: Command, io: CliIo): void {
  const chain = program.command("chain").description("a local development chain (start, fund, balance)");
  chain
    .command("start")
    .description("run a local Hardhat node (EDR) on 127.0.0.1 until Ctrl-C")
    .option("--port <port>", "port to listen on", intIn(1, 65_535), 8545)
    .option("--chain-id <id>", "chain id", intIn(1, 2 ** 31), 31337)
    .option("--json", "print the node's URL and pid as one JSON line")
    .action(runHandler(io, bound(() => import("./commands/chain-start.js"))));

  chain
    .command("fund")
    .description("send ether to host keys (addresses or keystore files) from the node's first account or --keystore")
    .argument("<target...>", "addresses, or keystore files (their address is read without a password)")
    .option("--rpc <url>", "the chain's JSON-RPC URL", rpcUrl, "http://127.0.0.1:8545")
    .option("--eth <amount>", "ether to send each target", "10")
    .option("--keystore <file>", "funder key (encrypted keystore); default: the node's first unlocked account")
    .option("--password-env <VAR>", "environment variable holding the keystore password")
    .option("--password-file <file>", "file holding the keystore password")
    .option("--json", "machine-readable output")
    .action(runHandler(io, bound(() => import("./commands/chain-fund.js"))));

  chain
    .command("balance")
    .description("the balance of addresses or keystore files on a chain")
    .argument("<target...>", "addresses, or keystore files (their address is read without a password)")
    .option("--rpc <url>", "the chain's JSON-RPC URL", rpcUrl, "http://127.0.0.1:8545")
    .option("--json", "machine-readable output")
    .action(runHandler(io, pickPlain(() => import("./commands/chain-fund.js"), "balance")));

  program
    .command("deploy")
    .description("deploy the contract suite (HostRegistry, AllocationRegistry, MigrationAuction) with Hardhat Ignition and write a deployment file")
    .option("--rpc <url>", "the chain's JSON-RPC URL", rpcUrl, "http://127.0.0.1:8545")
    .option("--out <file>", "write the addresses to this deployment file (host configs name it in deploymentFile)")
    .option("--keystore <file>", "deployer key (encrypted keystore); default: the node's first unlocked account")
    .option("--password-env <VAR>", "environment variable holding the keystore password (default: asked on the terminal)")
    .option("--password-file <file>", "file holding the keystore password")
    .option("--mirror-recorder <address...>", "hosts allowed to record mirror allocations on this chain", (v: string, prev: string[] = []) => [...prev, address(v)])
    .option("--min-stake-wei <wei>", "minimum host stake (default 1 ETH)", weiAmount)
    .option("--commit-window-floor <s>", "least commit window an auction may have, in seconds (default 36; 1 on a local chain that mines on demand)", intIn(1, 86_400))
    .option("--reveal-window-floor <s>", "least reveal window, in seconds (default 36; 1 on a local chain)", intIn(1, 86_400))
    .option("--parameters <file>", "Ignition parameters file for the TvmExchange module (e.g. deploy/parameters/testnet.json); flags win")
    .option("--deployment-dir <dir>", "keep Ignition's deployment journal here, so an interrupted deployment resumes (default: none)")
    .option("--confirmations <n>", "confirmations to wait for per transaction", intIn(1, 64), 1)
    .option("--json", "machine-readable output")
    .action(runHandler(io, bound(() => import("./commands/deploy.js"))));

  const host = program.command("host").description("run and inspect a host daemon (start, status, transactions)");
  host
    .command("start")
    .description("run the host daemon in the foreground until Ctrl-C (logs: JSON lines on stderr; see docs/host.md)")
    .requiredOption("--config <file>", "host config file (JSON)")
    .option("--json", "print the host's status as one JSON line once it is up")
    .action(runHandler(io, bound(() => import("./commands/host-start.js"))));
  hostTarget(
    host
      .command("status")
      .description("what a running host is doing (through its control API); from local state when its chain is unavailable (exit 3)"),
  )
    .option("--json", "machine-readable output")
    .action(runHandler(io, bound(() => import("./commands/host-status.js"))));
  hostTarget(host.command("transactions").description("every transaction the running host sent since it started (both chains): method, block, gas, fee, value"))
    .option("--json", "machine-readable output")
    .action(runHandler(io, pick(() => import("./commands/host-status.js"), "transactions")));

  const td = program.command("td").description("trust domains on a running host (create, list, show)");
  hostTarget(td.command("create").description("create a TD (with an optional guest writing to its memory)"))
    .option("--memory-mib <n>", "private memory in MiB", intIn(1, 65_536), 64)
    .option("--vcpus <n>", "vCPUs", intIn(1, 64), 1)
    .option("--workload-bytes-per-sec <n>", "guest write rate (0: an idle guest)", intIn(0, 10_000_000_000), 0)
    .option("--workload-hot-mib <n>", "size of the memory the guest writes to", intIn(1, 65_536))
    .option("--workload-seed <n>", "seed of the guest's writes", intIn(0, 2 ** 31))
    .option("-q, --quiet", "print only the TVM id (for a shell variable: TVM=$(tvmx td create -q ...))")
    .option("--json", "machine-readable output")
    .action(runHandler(io, pick(() => import("./commands/td.js"), "create")));
  hostTarget(td.command("list").description("TDs running on the host"))
    .option("--json", "machine-readable output")
    .action(runHandler(io, pick(() => import("./commands/td.js"), "list")));
  hostTarget(td.command("show").description("one TD").argument("<td>", "TD id or TVM id"))
    .option("--json", "machine-readable output")
    .action(runHandler(io, pick(() => import("./commands/td.js"), "show")));

  hostTarget(
    program
      .command("migrate")
      .description("migrate a TD: broadcast, acknowledgements, sealed-bid auction, live migration to the winner (waits for the outcome)")
      .argument("<td>", "TD id or TVM id on the host"),
  )
    .option("--reserve-price <wei>", "the most the source pays (default: the host's auction.defaultReservePriceWei)", weiAmount)
    .option("--downtime-ms <ms>", "blackout target of the live migration", intIn(1, 600_000))
    .option("--timeout-sec <s>", "how long to wait for the outcome", intIn(1, 86_400), 600)
    .option("--json", "machine-readable output")
    .action(runHandler(io, bound(() => import("./commands/migrate.js"))));

  const auction = program.command("auction").description("auctions a host opened or bid in (list, show)");
  hostTarget(auction.command("list").description("auctions the host opened and bids it made"))
    .option("--json", "machine-readable output")
    .action(runHandler(io, pick(() => import("./commands/auction.js"), "list")));
  hostTarget(auction.command("show").description("one auction as the chain sees it").argument("<id>", "auction id", auctionId))
    .option("--json", "machine-readable output")
    .action(runHandler(io, pick(() => import("./commands/auction.js"), "show")));

  const allocation = program.command("allocation").description("where TVMs run, from the chain (show)");
  hostTarget(allocation.command("show").description("where a TVM runs and its allocation history").argument("<tvm>", "TVM id (32 bytes, 0x-hex)", bytes32))
    .option("--json", "machine-readable output")
    .action(runHandler(io, pick(() => import("./commands/allocation.js"), "show")));

  program
    .command("demo")
    .description("the whole mission on this machine: two local chains, four host processes, one TD migrated by auction")
    .option("--json", "print the summary as one JSON object")
    .option("--work-dir <dir>", "where keys, configs, journals and logs go (default: a temporary directory)")
    .option("--keep", "keep the work directory after a successful run")
    .action(runHandler(io, bound(() => import("./commands/demo.js"))));
}
