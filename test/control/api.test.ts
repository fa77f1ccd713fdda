import { expect } from "chai";
import {
  ApiClient,
  ControlClient,
  routeOf,
  startControlServer,
  type ControlServer,
  type JsonForm,
} from "../../orchestrator/control/index.js";
import { TvmxError } from "../../orchestrator/errors/index.js";
import { MemoryLogger } from "../../orchestrator/log/index.js";

/** A small API written as a type, served by routes checked against it and called through the typed client. */
interface Ledger {
  id: string;
  balanceWei: bigint;
  entries: { atBlock: bigint; note?: string }[];
}
interface TestApi {
  "GET /v1/ledgers/:id": { request: undefined; response: Ledger };
  "POST /v1/ledgers/:id/entries/:block": { request: { note: string }; response: { accepted: boolean; block: bigint } };
  "GET /v1/count": { request: undefined; response: number };
}

const route = routeOf<TestApi>();
const ledgers = new Map<string, Ledger>([["a b/c", { id: "a b/c", balanceWei: 10n ** 24n + 1n, entries: [{ atBlock: 2n ** 60n }] }]]);

describe("control API contract (ApiClient, routeOf, JsonForm)", () => {
  let server: ControlServer;
  let api: ApiClient<TestApi>;

  before(async () => {
    const routes = [
      route("GET /v1/ledgers/:id", ({ params }) => {
        const ledger = ledgers.get(params.id);
        if (!ledger) throw new TvmxError("CONTROL_BAD_PATH", `no ledger ${params.id}`, { details: { id: params.id } });
        return ledger;
      }),
      route("POST /v1/ledgers/:id/entries/:block", ({ params, body }) => ({ accepted: (body as { note?: unknown }).note === "ok" && params.id === "x", block: BigInt(params.block) })),
      route("GET /v1/count", () => ledgers.size),
    ];
    server = await startControlServer({ port: 0, token: "t".repeat(64), routes, logger: new MemoryLogger() });
    api = new ApiClient<TestApi>(new ControlClient({ port: server.port, token: "t".repeat(64) }));
  });

  after(() => server.close());

  it("splits each endpoint into the route's method and path", () => {
    const r = route("POST /v1/ledgers/:id/entries/:block", () => ({ accepted: true, block: 1n }));
    expect([r.method, r.path]).to.deep.equal(["POST", "/v1/ledgers/:id/entries/:block"]);
  });

  it("fills and encodes the path parameters and returns the answer in its JSON form (bigints as decimal strings)", async () => {
    const ledger: JsonForm<Ledger> = await api.call("GET /v1/ledgers/:id", { params: { id: "a b/c" } });
    expect(ledger).to.deep.equal({ id: "a b/c", balanceWei: "1000000000000000000000001", entries: [{ atBlock: "1152921504606846976" }] });
  });

  it("sends the body and every parameter of an endpoint with two", async () => {
    expect(await api.call("POST /v1/ledgers/:id/entries/:block", { params: { id: "x", block: "77" }, body: { note: "ok" } })).to.deep.equal({ accepted: true, block: "77" });
  });

  it("calls an endpoint without parameters or body with nothing more than its name", async () => {
    expect(await api.call("GET /v1/count")).to.equal(1);
  });

  it("relays the host's typed error", async () => {
    const err = await api.call("GET /v1/ledgers/:id", { params: { id: "nope" } }).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(TvmxError);
    expect((err as TvmxError).code).to.equal("CONTROL_BAD_PATH");
    expect((err as TvmxError).details).to.include({ id: "nope" });
  });

  it("refuses at run time a call that slipped past the types without a path parameter", () => {
    // @ts-expect-error: the endpoint has a parameter, so `params` is required (the type check fails without this line's error)
    expect(() => api.call("GET /v1/ledgers/:id")).to.throw(TypeError, "missing path parameter id");
  });

  it("types each end against the contract (these lines are checked by `npm run typecheck`)", () => {
    // @ts-expect-error: a handler must answer what its endpoint declares
    route("GET /v1/count", () => "one");
    // @ts-expect-error: the body is the endpoint's request type
    void api.call("POST /v1/ledgers/:id/entries/:block", { params: { id: "x", block: "1" }, body: { note: 1 } }).catch(() => undefined);
    // @ts-expect-error: an endpoint the API does not have
    void api.call("GET /v1/nothing").catch(() => undefined);
    const form: JsonForm<{ a: bigint; b?: bigint; c: Uint8Array; d: { e: bigint }[] }> = { a: "1", c: "0x00", d: [{ e: "2" }] };
    expect(form.a).to.equal("1");
  });
});
