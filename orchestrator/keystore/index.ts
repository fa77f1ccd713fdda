export {
  createKeystore,
  DEFAULT_SCRYPT_N,
  keystoreAddress,
  LIGHT_SCRYPT_N,
  readPassword,
  unlockFromConfig,
  unlockKeystore,
} from "./keystore.js";
export type { CreateKeystoreOptions, PasswordSource } from "./keystore.js";
export { passwordFrom, terminalPrompt } from "./password-prompt.js";
export type { PromptIo } from "./password-prompt.js";
