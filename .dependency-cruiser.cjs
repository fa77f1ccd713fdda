/**
 * The layering of orchestrator/, checked by `npm run lint:deps` (part of `npm test`). docs/architecture.md draws
 * it. Each folder is one concept; an arrow may only point down:
 *
 *   cli → demo → host → {channel, migration, chain, control, attestation, attestation-issuer} → leaves → foundation
 *   leaves:     config, keystore, journal, metrics, progress, pricing, tdx
 *   foundation: errors, util, log, runtime
 *
 * Within the middle layer only channel → attestation (the channel verifies quotes) and attestation-issuer →
 * attestation (the simulated issuer builds on the format and the verifier, never the other way round); within the leaves only
 * pricing → config (prices read the host's pricing config). Across folders, imports go through each folder's
 * index.ts barrel.
 */
const FOUNDATION = "(errors|util|log|runtime)";
const LEAVES = "(config|keystore|journal|metrics|progress|pricing|tdx)";
const MIDDLE = "(attestation|attestation-issuer|channel|migration|chain|control)";
const dir = (group) => `^orchestrator/${group}/`;

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment:
        "No module may reach itself through value imports. Type-only circles are allowed: the TDX model's platform, " +
        "module and trust domain name each other's types, which is the shape of the hardware they model.",
      severity: "error",
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ["type-only"] } },
    },
    {
      name: "foundation-imports-only-foundation",
      severity: "error",
      from: { path: dir(FOUNDATION) },
      to: { path: "^orchestrator/", pathNot: [dir(FOUNDATION)] },
    },
    {
      name: "leaves-import-only-foundation",
      comment: "Leaves stand alone on the foundation; pricing reads the pricing section of the config.",
      severity: "error",
      from: { path: dir(LEAVES) },
      to: { path: "^orchestrator/", pathNot: [dir(FOUNDATION), "^orchestrator/$1/", "^orchestrator/config/"] },
    },
    {
      name: "leaves-config-only-for-pricing",
      severity: "error",
      from: { path: dir(LEAVES), pathNot: ["^orchestrator/(pricing|config)/"] },
      to: { path: "^orchestrator/config/" },
    },
    {
      name: "middle-imports-no-sibling",
      comment:
        "The middle layer's folders are independent of each other, except the channel verifying quotes and the " +
        "simulated issuer building on the attestation format.",
      severity: "error",
      from: { path: dir(MIDDLE), pathNot: ["^orchestrator/(channel|attestation-issuer)/"] },
      to: { path: dir(MIDDLE), pathNot: ["^orchestrator/$1/"] },
    },
    {
      name: "channel-imports-only-attestation-sibling",
      severity: "error",
      from: { path: "^orchestrator/channel/" },
      to: { path: dir(MIDDLE), pathNot: ["^orchestrator/(channel|attestation)/"] },
    },
    {
      name: "issuer-imports-only-attestation-sibling",
      severity: "error",
      from: { path: "^orchestrator/attestation-issuer/" },
      to: { path: dir(MIDDLE), pathNot: ["^orchestrator/(attestation-issuer|attestation)/"] },
    },
    {
      name: "nothing-below-host-imports-host",
      severity: "error",
      from: { path: [dir(FOUNDATION), dir(LEAVES), dir(MIDDLE)] },
      to: { path: "^orchestrator/host/" },
    },
    {
      name: "only-cli-imports-demo",
      comment: "demo composes hosts and chains for the demo and the e2e tests; only the CLI starts it.",
      severity: "error",
      from: { path: "^orchestrator/", pathNot: ["^orchestrator/(cli|demo)/"] },
      to: { path: "^orchestrator/demo/" },
    },
    {
      name: "nothing-imports-cli",
      severity: "error",
      from: { path: "^orchestrator/", pathNot: ["^orchestrator/cli/"] },
      to: { path: "^orchestrator/cli/" },
    },
    {
      name: "cross-folder-through-barrel",
      comment:
        "A folder is used from outside through its index.ts only, so that what it offers is one list and its files can " +
        "move. One sub-barrel is allowed: chain/ignition/index.ts, kept out of chain/index.ts because it loads " +
        "ignition-core, which only the deploy paths need. The CLI's root is checked by the next rule.",
      severity: "error",
      from: { path: "^orchestrator/([^/]+)/", pathNot: ["^orchestrator/cli/program\\.ts$"] },
      to: {
        path: "^orchestrator/[^/]+/",
        pathNot: ["^orchestrator/$1/", "^orchestrator/[^/]+/index\\.ts$", "^orchestrator/chain/ignition/index\\.ts$"],
      },
    },
    {
      name: "cli-root-through-barrel",
      comment:
        "The CLI's root follows the barrel rule with one named exception: it loads demo/load-suite.ts directly, " +
        "because the demo's barrel rests on the contract bindings, which a fresh clone lacks until it is built.",
      severity: "error",
      from: { path: "^orchestrator/cli/program\\.ts$" },
      to: {
        path: "^orchestrator/[^/]+/",
        pathNot: ["^orchestrator/cli/", "^orchestrator/[^/]+/index\\.ts$", "^orchestrator/demo/load-suite\\.ts$"],
      },
    },
    {
      name: "no-unlisted-folder",
      comment: "A new folder must be placed in a layer here (and in docs/architecture.md) before it is used.",
      severity: "error",
      from: { path: "^orchestrator/" },
      to: { path: "^orchestrator/", pathNot: [dir(FOUNDATION), dir(LEAVES), dir(MIDDLE), "^orchestrator/(host|demo|cli)/"] },
    },
  ],
  options: {
    tsConfig: { fileName: "tsconfig.json" },
    tsPreCompilationDeps: true,
    doNotFollow: { path: "node_modules" },
    exclude: { path: "node_modules" },
  },
};
