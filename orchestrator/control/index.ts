export { ControlClient } from "./client.js";
export { MAX_BODY_BYTES, startControlServer, statusFor } from "./server.js";
export type { ControlRequest, ControlRoute, ControlServer, HttpMethod } from "./server.js";
export {
  ENDPOINT_FILE,
  ensureControlToken,
  readControlEndpoint,
  readControlToken,
  TOKEN_FILE,
  tokenMatches,
  writeControlEndpoint,
} from "./token.js";
