import { expect } from "chai";
import { decideAbort } from "../../orchestrator/migration/abort-decision.js";
import type { AbortAction, RejectionToken } from "../../orchestrator/migration/abort-decision.js";
import type { MigrationPhase } from "../../orchestrator/migration/source-options.js";

const withToken: RejectionToken = { token: "dG9rZW4=" };
const withoutToken: RejectionToken = { token: "" };

describe("abort decision", () => {
  const table: Array<{ name: string; phase: MigrationPhase; rejection?: RejectionToken; exported: boolean; expected: AbortAction }> = [
    { name: "only releases a TD whose export never started", phase: "created", exported: false, expected: { action: "release" } },
    { name: "only releases while connecting before the export started", phase: "connecting", exported: false, expected: { action: "release" } },
    {
      name: "releases without an export even when the destination sent a token",
      phase: "connecting",
      rejection: withToken,
      exported: false,
      expected: { action: "release" },
    },
    { name: "cancels and resumes on its own while connecting after the export started", phase: "connecting", exported: true, expected: { action: "cancel-and-resume" } },
    { name: "cancels and resumes on its own in pre-copy", phase: "precopy", exported: true, expected: { action: "cancel-and-resume" } },
    {
      name: "resumes on its own in pre-copy even with the destination's token (before the start token none is needed)",
      phase: "precopy",
      rejection: withToken,
      exported: true,
      expected: { action: "cancel-and-resume" },
    },
    { name: "cancels and resumes on its own in the blackout before the start token", phase: "blackout", exported: true, expected: { action: "cancel-and-resume" } },
    {
      name: "resumes with the destination's token once the start token is out",
      phase: "awaiting-commit",
      rejection: withToken,
      exported: true,
      expected: { action: "resume-with-token", token: withToken.token },
    },
    { name: "asks the destination when the start token is out and no token came", phase: "awaiting-commit", exported: true, expected: { action: "recover" } },
    {
      name: "asks the destination when its rejection carried an empty token",
      phase: "awaiting-commit",
      rejection: withoutToken,
      exported: true,
      expected: { action: "recover" },
    },
    { name: "asks the destination again from outcome-unknown", phase: "outcome-unknown", exported: true, expected: { action: "recover" } },
    {
      name: "resumes with a token that arrived in outcome-unknown",
      phase: "outcome-unknown",
      rejection: withToken,
      exported: true,
      expected: { action: "resume-with-token", token: withToken.token },
    },
  ];
  for (const row of table) {
    it(row.name, () => {
      expect(decideAbort(row.phase, row.rejection, row.exported)).to.deep.equal(row.expected);
    });
  }
});
