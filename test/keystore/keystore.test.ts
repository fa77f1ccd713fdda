import { expect } from "chai";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TvmxError } from "../../orchestrator/errors/index.js";
import {
  createKeystore,
  keystoreAddress,
  LIGHT_SCRYPT_N,
  readPassword,
  unlockFromConfig,
  unlockKeystore,
} from "../../orchestrator/keystore/index.js";

const KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const KEY_ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

async function codeOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err, "expected a rejection").to.be.instanceOf(TvmxError);
  return (err as TvmxError).code;
}

describe("keystore", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "tvmx-ks-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("encrypts a key with a light scrypt cost, readable only by its owner, and unlocks it", async () => {
    const file = join(dir, "keys", "host.json");
    const { address } = await createKeystore(file, "pw", { privateKey: KEY, scryptN: LIGHT_SCRYPT_N });
    expect(address).to.equal(KEY_ADDRESS);
    expect((await stat(file)).mode & 0o777).to.equal(0o600);
    const json = JSON.parse(await readFile(file, "utf8"));
    expect(json.Crypto.kdfparams.n).to.equal(LIGHT_SCRYPT_N);
    expect(await readFile(file, "utf8")).to.not.contain(KEY.slice(2));
    const wallet = await unlockKeystore(file, "pw");
    expect(wallet.address).to.equal(KEY_ADDRESS);
    expect(wallet.privateKey).to.equal(KEY);
  });

  it("creates a fresh random key when none is given", async () => {
    const a = await createKeystore(join(dir, "a.json"), "pw", { scryptN: LIGHT_SCRYPT_N });
    const b = await createKeystore(join(dir, "b.json"), "pw", { scryptN: LIGHT_SCRYPT_N });
    expect(a.address).to.not.equal(b.address);
  });

  it("reads the address without the password", async () => {
    const file = join(dir, "k.json");
    await createKeystore(file, "pw", { privateKey: KEY, scryptN: LIGHT_SCRYPT_N });
    expect(await keystoreAddress(file)).to.equal(KEY_ADDRESS);
  });

  it("refuses a wrong password with a typed error", async () => {
    const file = join(dir, "k.json");
    await createKeystore(file, "right", { privateKey: KEY, scryptN: LIGHT_SCRYPT_N });
    expect(await codeOf(unlockKeystore(file, "wrong"))).to.equal("KEYSTORE_WRONG_PASSWORD");
  });

  it("refuses to overwrite an existing key file unless asked", async () => {
    const file = join(dir, "k.json");
    await createKeystore(file, "pw", { privateKey: KEY, scryptN: LIGHT_SCRYPT_N });
    expect(await codeOf(createKeystore(file, "pw", { scryptN: LIGHT_SCRYPT_N }))).to.equal("KEYSTORE_EXISTS");
    expect((await unlockKeystore(file, "pw")).address).to.equal(KEY_ADDRESS);
    await createKeystore(file, "pw2", { scryptN: LIGHT_SCRYPT_N, overwrite: true });
    expect(await codeOf(unlockKeystore(file, "pw"))).to.equal("KEYSTORE_WRONG_PASSWORD");
  });

  it("refuses an empty password and a scrypt cost that is not a power of two", async () => {
    expect(await codeOf(createKeystore(join(dir, "x.json"), ""))).to.equal("KEYSTORE_PASSWORD_MISSING");
    expect(await codeOf(createKeystore(join(dir, "y.json"), "pw", { scryptN: 1000 }))).to.equal("KEYSTORE_MALFORMED");
  });

  it("reports a missing file and a file that is not a keystore", async () => {
    expect(await codeOf(unlockKeystore(join(dir, "none.json"), "pw"))).to.equal("KEYSTORE_NOT_FOUND");
    const junk = join(dir, "junk.json");
    await writeFile(junk, '{"hello":"world"}');
    expect(await codeOf(unlockKeystore(junk, "pw"))).to.equal("KEYSTORE_MALFORMED");
    expect(await codeOf(keystoreAddress(junk))).to.equal("KEYSTORE_MALFORMED");
  });

  it("reports a keystore whose ciphertext was damaged", async () => {
    const file = join(dir, "k.json");
    await createKeystore(file, "pw", { privateKey: KEY, scryptN: LIGHT_SCRYPT_N });
    const json = JSON.parse(await readFile(file, "utf8"));
    json.Crypto.ciphertext = json.Crypto.ciphertext.replace(/^./, (c: string) => (c === "0" ? "1" : "0"));
    await writeFile(file, JSON.stringify(json));
    // The MAC covers the ciphertext, so damage looks exactly like a wrong password.
    expect(await codeOf(unlockKeystore(file, "pw"))).to.equal("KEYSTORE_WRONG_PASSWORD");
  });

  it("reads the password from an environment variable or a file", async () => {
    expect(await readPassword({ kind: "env", name: "PW" }, { PW: "secret" })).to.equal("secret");
    expect(await codeOf(readPassword({ kind: "env", name: "PW" }, {}))).to.equal("KEYSTORE_PASSWORD_MISSING");
    expect(await codeOf(readPassword({ kind: "env", name: "PW" }, { PW: "" }))).to.equal("KEYSTORE_PASSWORD_MISSING");
    const pwFile = join(dir, "pw");
    await writeFile(pwFile, "from-file\n");
    expect(await readPassword({ kind: "file", path: pwFile })).to.equal("from-file");
    expect(await codeOf(readPassword({ kind: "file", path: join(dir, "nope") }))).to.equal("KEYSTORE_PASSWORD_MISSING");
    await writeFile(pwFile, "\n");
    expect(await codeOf(readPassword({ kind: "file", path: pwFile }))).to.equal("KEYSTORE_PASSWORD_MISSING");
  });

  it("unlocks from a config's keystore section", async () => {
    const file = join(dir, "k.json");
    await createKeystore(file, "pw", { privateKey: KEY, scryptN: LIGHT_SCRYPT_N });
    const wallet = await unlockFromConfig({ path: file, password: { kind: "env", name: "HOST_PW" } }, { HOST_PW: "pw" });
    expect(wallet.address).to.equal(KEY_ADDRESS);
  });
});
