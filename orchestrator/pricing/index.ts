export { decideBid, MAX_PRICE_WEI } from "./pricing.js";
export type { BidDecision, CapacityView, NoBidReason, TdDemand } from "./pricing.js";
