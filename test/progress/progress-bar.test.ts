import { expect } from "chai";
import { createProgressBar, formatProgressLine, type ProgressStream } from "../../orchestrator/progress/index.js";

const MIB = 1024 * 1024;

function fakeStream(isTTY: boolean, columns = 100): ProgressStream & { out: string[] } {
  const out: string[] = [];
  return { isTTY, columns, out, write: (chunk: string) => out.push(chunk) > 0 };
}

describe("progress/formatProgressLine", () => {
  it("shows the share sent, the phase, the round, the amounts and the rate", () => {
    const line = formatProgressLine("td-1", { phase: "pre-copy", round: 3, sentBytes: 128 * MIB, totalBytes: 256 * MIB, elapsedMs: 500 });
    expect(line).to.match(/^td-1 \[#+·+\]  50% pre-copy round 3  128\.0\/256\.0 MiB  256\.0 MiB\/s$/);
    const bar = /\[(.*)\]/.exec(line)![1]!;
    expect(bar.split("#").length - 1).to.equal(bar.length / 2);
  });

  it("caps the share at 100% (a dirty page sent twice counts twice)", () => {
    expect(formatProgressLine("x", { phase: "blackout", sentBytes: 300, totalBytes: 200, elapsedMs: 1 })).to.contain("100% blackout");
  });

  it("shows an unknown share when the total is not known", () => {
    expect(formatProgressLine("x", { phase: "connecting", sentBytes: 0, elapsedMs: 0 })).to.contain("  ?% connecting  0.0 MiB");
  });

  it("fits the terminal width", () => {
    const line = formatProgressLine("a-very-long-label-for-a-trust-domain", { phase: "pre-copy", round: 12, sentBytes: 5 * MIB, totalBytes: 8 * MIB, elapsedMs: 10 }, 40);
    expect(line.length).to.be.at.most(40);
  });
});

describe("progress/createProgressBar", () => {
  it("draws nothing when the stream is not a terminal", () => {
    const stream = fakeStream(false);
    const bar = createProgressBar("td-1", { stream });
    bar.update({ phase: "pre-copy", sentBytes: 1, totalBytes: 2, elapsedMs: 1 });
    bar.finish({ phase: "committed", sentBytes: 2, totalBytes: 2, elapsedMs: 2 });
    expect(bar.enabled).to.equal(false);
    expect(stream.out).to.deep.equal([]);
  });

  it("redraws in place on a terminal, throttled, and ends with a newline", () => {
    const stream = fakeStream(true);
    let t = 0;
    const bar = createProgressBar("td-1", { stream, fps: 10, now: () => t });
    bar.update({ phase: "pre-copy", sentBytes: 1 * MIB, totalBytes: 4 * MIB, elapsedMs: 10 });
    t = 50;
    bar.update({ phase: "pre-copy", sentBytes: 2 * MIB, totalBytes: 4 * MIB, elapsedMs: 60 }); // within 100 ms: skipped
    t = 150;
    bar.update({ phase: "pre-copy", sentBytes: 3 * MIB, totalBytes: 4 * MIB, elapsedMs: 160 });
    bar.finish({ phase: "committed", sentBytes: 4 * MIB, totalBytes: 4 * MIB, elapsedMs: 170 }, "downtime 12 ms");
    bar.update({ phase: "late", sentBytes: 0, elapsedMs: 0 }); // after finish: ignored
    expect(stream.out).to.have.length(3);
    for (const chunk of stream.out) expect(chunk.startsWith("\r")).to.equal(true);
    expect(stream.out[1]).to.contain(" 75% pre-copy");
    expect(stream.out[2]).to.match(/100% committed.*downtime 12 ms\n$/);
  });
});
