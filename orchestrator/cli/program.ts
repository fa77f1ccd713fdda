/**
 * The `tvmx` command line. Every command is declared here (name, arguments, options, help); its handler
 * is a module under ./commands/ that exports `run(args…, options, io)`, loaded only when the command runs.
 * Adding a command = one declaration below + its handler module.
 */
import { Command } from "commander";
import { hexBytes } from "./args.js";
import { processIo, type CliIo } from "./io.js";
import { runHandler } from "./run-handler.js";

export function buildProgram(io: CliIo = processIo): Command {
  const program = new Command("tvmx")
    .description("TVM Exchange: live migration of confidential VMs between operators, placed by an on-chain auction")
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) });

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

  const host = program.command("host").description("run and inspect a host daemon");
  host.command("start").description("run the host daemon in the foreground (see docs/host.md)").requiredOption("--config <file>", "host config file (JSON)").action(runHandler(io, () => import("../host/commands/host-start.js")));
  host.command("status").description("what a running host is doing (through its control API)").requiredOption("--config <file>", "host config file (JSON)").option("--json", "machine-readable output").action(runHandler(io, () => import("../host/commands/host-status.js")));

  return program;
}
