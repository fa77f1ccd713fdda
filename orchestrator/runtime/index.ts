/** How the project's processes are started (the V8 flags of a host daemon). */
export { ENGINE_NODE_FLAGS } from "./engine-flags.js";
