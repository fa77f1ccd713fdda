import { expect } from "chai";
import { mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Wallet } from "ethers";
import { passwordFrom, type PromptIo } from "../../orchestrator/keystore/index.js";
import { tvmx } from "../e2e/helpers.js";

/** A terminal that answers the prompts in order and records what it was asked. */
function scriptedTerminal(answers: string[]): PromptIo & { asked: string[] } {
  const asked: string[] = [];
  return { interactive: true, asked, ask: async (prompt) => (asked.push(prompt), answers.shift() ?? "") };
}

describe("tvmx keystore new|import|address", function () {
  this.timeout(60_000);
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tvmx-keystore-"));
  });

  it("new: writes a standard encrypted keystore (mode 0600) that ethers decrypts with the password from the environment", async () => {
    const file = join(dir, "new.json");
    const r = await tvmx(["keystore", "new", file, "--password-env", "KS_PASSWORD", "--scrypt-n", "1024", "--json"], { env: { KS_PASSWORD: "correct horse" } });
    expect(r.code, r.stderr).to.equal(0);
    const printed = JSON.parse(r.stdout) as { file: string; address: string };
    const wallet = await Wallet.fromEncryptedJson(await readFile(file, "utf8"), "correct horse");
    expect(wallet.address).to.equal(printed.address);
    expect((await stat(file)).mode & 0o777).to.equal(0o600);
    const address = await tvmx(["keystore", "address", file]);
    expect(address.code, address.stderr).to.equal(0);
    expect(address.stdout.trim()).to.equal(wallet.address);
    // A second `new` on the same path refuses (a key is never overwritten by accident); --force replaces it.
    const again = await tvmx(["keystore", "new", file, "--password-env", "KS_PASSWORD", "--scrypt-n", "1024"], { env: { KS_PASSWORD: "x" } });
    expect(again.code).to.equal(1);
    expect(again.stderr).to.match(/^error \[KEYSTORE_EXISTS\]: keystore file already exists/);
    expect((await Wallet.fromEncryptedJson(await readFile(file, "utf8"), "correct horse")).address).to.equal(wallet.address);
    const forced = await tvmx(["keystore", "new", file, "--password-env", "KS_PASSWORD", "--scrypt-n", "1024", "--force", "--json"], { env: { KS_PASSWORD: "x" } });
    expect(forced.code, forced.stderr).to.equal(0);
    expect((JSON.parse(forced.stdout) as { address: string }).address).to.not.equal(wallet.address);
  });

  it("import: encrypts a given private key (from a file, password from a file) under its own address", async () => {
    const key = Wallet.createRandom();
    const keyFile = join(dir, "key.hex");
    const passwordFile = join(dir, "password.txt");
    await writeFile(keyFile, `${key.privateKey.slice(2)}\n`);
    await writeFile(passwordFile, "from a file\n");
    const file = join(dir, "imported.json");
    const r = await tvmx(["keystore", "import", file, "--private-key-file", keyFile, "--password-file", passwordFile, "--scrypt-n", "1024"]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.contain(`address ${key.address}`);
    const wallet = await Wallet.fromEncryptedJson(await readFile(file, "utf8"), "from a file");
    expect(wallet.privateKey).to.equal(key.privateKey);
  });

  it("refuses a missing password (no terminal), a bad private key, a missing file and a non-keystore, each with its code", async () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [["keystore", "new", join(dir, "a.json")], {}, /^error \[KEYSTORE_PASSWORD_MISSING\]: no password for .*a\.json: give --password-env/],
      [["keystore", "new", join(dir, "a.json"), "--password-env", "UNSET_VAR_12"], {}, /^error \[KEYSTORE_PASSWORD_MISSING\]: .*UNSET_VAR_12 is not set/],
      [["keystore", "new", join(dir, "a.json"), "--password-env", "P", "--password-file", "f"], { P: "p" }, /^error \[CLI_BAD_ARGUMENT\]: give one of/],
      [["keystore", "import", join(dir, "a.json"), "--private-key-env", "PK", "--password-env", "P"], { PK: "0x1234", P: "p" }, /^error \[CLI_BAD_ARGUMENT\]: the private key is not 32 bytes/],
      [["keystore", "import", join(dir, "a.json"), "--password-env", "P"], { P: "p" }, /^error \[CLI_BAD_ARGUMENT\]: no private key/],
      [["keystore", "new", join(dir, "a.json"), "--password-env", "P", "--scrypt-n", "0"], { P: "p" }, /^error \[CLI_USAGE\]: option '--scrypt-n <N>' argument '0' is invalid/],
      [["keystore", "address", join(dir, "none.json")], {}, /^error \[KEYSTORE_NOT_FOUND\]: cannot read keystore file/],
      [["keystore", "address", join(dir, "key.hex")], {}, /^error \[KEYSTORE_MALFORMED\]: not an encrypted keystore file/],
    ];
    for (const [args, env, message] of cases) {
      const r = await tvmx(args, { env });
      expect(r.code, args.join(" ")).to.equal(1);
      expect(r.stderr, args.join(" ")).to.match(message);
    }
  });

  it("asks on a terminal, twice for a new key, and refuses when the two answers differ", async () => {
    const same = scriptedTerminal(["pw", "pw"]);
    expect(await passwordFrom(undefined, { file: "k.json", confirm: true }, same)).to.equal("pw");
    expect(same.asked).to.deep.equal(["password for k.json: ", "repeat the password: "]);
    const differ = scriptedTerminal(["pw", "pv"]);
    await passwordFrom(undefined, { file: "k.json", confirm: true }, differ).then(
      () => expect.fail("accepted two different passwords"),
      (err: { code?: string; message: string }) => expect([err.code, err.message]).to.deep.equal(["KEYSTORE_PASSWORD_MISSING", "the two passwords differ"]),
    );
    // An option wins over the terminal: nothing is asked.
    const unused = scriptedTerminal([]);
    process.env.TVMX_TEST_PW = "from env";
    expect(await passwordFrom({ kind: "env", name: "TVMX_TEST_PW" }, { file: "k.json" }, unused)).to.equal("from env");
    delete process.env.TVMX_TEST_PW;
    expect(unused.asked).to.deep.equal([]);
  });
});
