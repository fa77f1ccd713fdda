export { ApiClient, routeOf } from "./api.js";
export type { ApiSpec, CallInput, PathParamNames, RequestOf, ResponseOf } from "./api.js";
export { ControlClient } from "./client.js";
export type { JsonForm } from "./json-form.js";
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
