import { CRYPTO_BACKEND_ENV, chooseCodec, loadNativeCodec, setActiveCodecChoice, type CodecBackendName } from "../../orchestrator/tdx/index.js";

export const CODEC_BACKENDS: readonly CodecBackendName[] = ["native", "node"];

/**
 * Runs a suite once per page-codec backend, in this thread and in the workers it starts (they read the
 * environment). Without the addon built the native run is skipped, saying why.
 */
export function describeEachBackend(title: string, body: (this: Mocha.Suite, backend: CodecBackendName) => void): void {
  for (const backend of CODEC_BACKENDS) {
    describe(`${title} [${backend} codec]`, function () {
      let previous: ReturnType<typeof setActiveCodecChoice>;
      let previousEnv: string | undefined;
      before(function () {
        const native = loadNativeCodec();
        if (backend === "native" && native.codec === undefined) {
          console.log(`      (native codec skipped: ${native.reason})`);
          this.skip();
        }
        previous = setActiveCodecChoice(chooseCodec(backend));
        previousEnv = process.env[CRYPTO_BACKEND_ENV];
        process.env[CRYPTO_BACKEND_ENV] = backend;
      });
      after(() => {
        setActiveCodecChoice(previous);
        if (previousEnv === undefined) delete process.env[CRYPTO_BACKEND_ENV];
        else process.env[CRYPTO_BACKEND_ENV] = previousEnv;
      });
      body.call(this, backend);
    });
  }
}
