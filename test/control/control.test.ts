import { expect } from "chai";
import { chmod, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import {
  ControlClient,
  ensureControlToken,
  readControlEndpoint,
  readControlToken,
  startControlServer,
  TOKEN_FILE,
  writeControlEndpoint,
  type ControlRoute,
  type ControlServer,
} from "../../orchestrator/control/index.js";
import { TvmxError } from "../../orchestrator/errors/index.js";
import { MemoryLogger } from "../../orchestrator/log/index.js";

async function rejection(p: Promise<unknown>): Promise<TvmxError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err, "expected a rejection").to.be.instanceOf(TvmxError);
  return err as TvmxError;
}

const tds = new Map<string, { id: string; memoryMiB: number }>([["td-1", { id: "td-1", memoryMiB: 64 }]]);

const routes: ControlRoute[] = [
  { method: "GET", path: "/v1/status", handler: () => ({ name: "host-a", balanceWei: 10n ** 20n }) },
  { method: "GET", path: "/v1/tds", handler: () => [...tds.values()] },
  {
    method: "GET",
    path: "/v1/tds/:id",
    handler: ({ params }) => {
      const td = tds.get(params.id!);
      if (!td) throw new TvmxError("HOST_TD_NOT_FOUND", `no TD ${params.id}`, { details: { tdId: params.id } });
      return td;
    },
  },
  {
    method: "POST",
    path: "/v1/tds",
    handler: ({ body }) => {
      const memoryMiB = (body as { memoryMiB?: unknown } | undefined)?.memoryMiB;
      if (typeof memoryMiB !== "number") throw new TvmxError("CONTROL_BAD_REQUEST", "memoryMiB must be a number", { details: { memoryMiB } });
      return { id: "td-2", memoryMiB };
    },
  },
  { method: "POST", path: "/v1/busy", handler: () => Promise.reject(new TvmxError("HOST_BUSY", "a migration is running")) },
  { method: "GET", path: "/v1/crash", handler: () => Promise.reject(new Error("secret internal detail")) },
];

describe("control API", () => {
  let dir: string;
  let server: ControlServer;
  let client: ControlClient;
  let log: MemoryLogger;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tvmx-control-"));
    log = new MemoryLogger();
    const token = await ensureControlToken(dir);
    server = await startControlServer({ port: 0, token, routes, logger: log });
    await writeControlEndpoint(dir, server.port);
    client = await ControlClient.fromDataDir(dir);
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps its token readable by the owner only, and reuses it", async () => {
    expect((await stat(join(dir, TOKEN_FILE))).mode & 0o777).to.equal(0o600);
    const token = await readControlToken(dir);
    expect(token).to.match(/^[0-9a-f]{64}$/);
    expect(await ensureControlToken(dir)).to.equal(token);
  });

  it("answers an authenticated request with JSON, bigints as strings", async () => {
    expect(await client.get("/v1/status")).to.deep.equal({ name: "host-a", balanceWei: "100000000000000000000" });
  });

  it("passes path parameters and bodies to the handlers", async () => {
    expect(await client.get("/v1/tds/td-1")).to.deep.equal({ id: "td-1", memoryMiB: 64 });
    expect(await client.post("/v1/tds", { memoryMiB: 128 })).to.deep.equal({ id: "td-2", memoryMiB: 128 });
  });

  it("returns the host's typed errors to the client with their code and details", async () => {
    const notFound = await rejection(client.get("/v1/tds/td-9"));
    expect(notFound.code).to.equal("HOST_TD_NOT_FOUND");
    expect(notFound.details).to.deep.equal({ tdId: "td-9", status: 404 });
    const bad = await rejection(client.post("/v1/tds", { memoryMiB: "lots" }));
    expect(bad.code).to.equal("CONTROL_BAD_REQUEST");
    expect(bad.details.status).to.equal(400);
    const busy = await rejection(client.post("/v1/busy"));
    expect(busy.code).to.equal("HOST_BUSY");
    expect(busy.details.status).to.equal(409);
  });

  it("hides the detail of an unexpected failure from the client but logs it", async () => {
    const err = await rejection(client.get("/v1/crash"));
    expect(err.code).to.equal("CONTROL_SERVER");
    expect(err.message).to.not.contain("secret");
    expect(log.find("control: request failed")).to.have.length(1);
  });

  it("answers unknown paths with CONTROL_NOT_FOUND and a wrong method with 405", async () => {
    expect((await rejection(client.get("/v1/nothing"))).code).to.equal("CONTROL_NOT_FOUND");
    const wrongMethod = await rejection(client.request("DELETE", "/v1/status"));
    expect(wrongMethod.details.status).to.equal(405);
  });

  it("refuses a wrong or missing token", async () => {
    const wrong = new ControlClient({ port: server.port, token: "0".repeat(64) });
    expect((await rejection(wrong.get("/v1/status"))).code).to.equal("CONTROL_UNAUTHORIZED");
    const res = await fetch(`${server.url}/v1/status`);
    expect(res.status).to.equal(401);
  });

  it("refuses a malformed or oversized body", async () => {
    const token = await readControlToken(dir);
    const headers = { authorization: `Bearer ${token}` };
    const malformed = await fetch(`${server.url}/v1/tds`, { method: "POST", headers, body: "{nope" });
    expect(malformed.status).to.equal(400);
    const huge = await fetch(`${server.url}/v1/tds`, { method: "POST", headers, body: "x".repeat(1024 * 1024 + 1) }).catch(() => undefined);
    // The server answers 400 (or cuts the upload short): either way nothing was executed.
    if (huge) expect(huge.status).to.equal(400);
    expect(await client.get("/v1/status")).to.have.property("name", "host-a");
  });

  it("answers a path with broken percent-encoding with 400 CONTROL_BAD_PATH, never 500", async () => {
    const token = await readControlToken(dir);
    const headers = { authorization: `Bearer ${token}` };
    for (const path of ["/v1/tds/%E0%A4%A", "/v1/tds/%", "/v1/tds/%ZZ", "/v1/tds/%C0%80"]) {
      const res = await fetch(`${server.url}${path}`, { headers });
      expect(res.status, path).to.equal(400);
      const body = (await res.json()) as { error: { code: string } };
      expect(body.error.code, path).to.equal("CONTROL_BAD_PATH");
    }
    expect(log.find("control: request failed")).to.have.length(1); // only the /v1/crash test's
    expect(await client.get("/v1/tds/td-1")).to.deep.equal({ id: "td-1", memoryMiB: 64 });
  });

  it("reports a host that is not running as unreachable", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as { port: number }).port;
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    const gone = new ControlClient({ port, token: "0".repeat(64) });
    const err = await rejection(gone.get("/v1/status"));
    expect(err.code).to.equal("CONTROL_UNREACHABLE");
    expect(err.message).to.contain(`127.0.0.1:${port}`);
  });

  it("reports a data directory without a running host", async () => {
    const empty = await mkdtemp(join(tmpdir(), "tvmx-control-empty-"));
    try {
      expect((await rejection(readControlEndpoint(empty))).code).to.equal("CONTROL_UNREACHABLE");
      expect((await rejection(readControlToken(empty))).code).to.equal("CONTROL_TOKEN_MISSING");
      await writeFile(join(empty, "control.json"), '{"port":"x"}');
      expect((await rejection(readControlEndpoint(empty))).code).to.equal("CONTROL_UNREACHABLE");
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it("refuses a token file that others can read", async () => {
    const loose = await mkdtemp(join(tmpdir(), "tvmx-control-loose-"));
    try {
      await ensureControlToken(loose);
      await chmod(join(loose, TOKEN_FILE), 0o644);
      expect((await rejection(readControlToken(loose))).code).to.equal("CONTROL_UNAUTHORIZED");
    } finally {
      await rm(loose, { recursive: true, force: true });
    }
  });

  it("listens on loopback only", async function () {
    expect(server.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    const external = Object.values(networkInterfaces())
      .flat()
      .find((i) => i !== undefined && i.family === "IPv4" && !i.internal);
    if (!external) this.skip();
    const reached = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: external!.address, port: server.port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
    expect(reached, `reachable on ${external!.address}`).to.equal(false);
  });
});
