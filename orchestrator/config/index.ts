export { loadHostConfig, parseJsonText } from "./load.js";
export { FAILURE_POLICIES, parseHostConfig } from "./host-config.js";
export type {
  AuctionConfig,
  ChainEndpointConfig,
  ChannelLimitsConfig,
  ContractsConfig,
  FailurePolicy,
  HostConfig,
  KeystoreConfig,
  MigrationConfig,
  MirrorChainConfig,
  PricingConfig,
  RegistrationConfig,
} from "./host-config.js";
export { describeIssue, FieldReader } from "./fields.js";
export type { ConfigIssue } from "./fields.js";
