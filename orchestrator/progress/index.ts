export { createProgressBar, formatProgressLine } from "./progress-bar.js";
export type { ProgressBar, ProgressState, ProgressStream } from "./progress-bar.js";
