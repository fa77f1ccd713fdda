/**
 * A one-line progress bar for a migration, redrawn in place on a terminal:
 *
 *   td-1 → 0x70997970…79C8 [##########··········]  50% pre-copy round 3  128.0/256.0 MiB  412.3 MiB/s
 *
 * It renders only when the stream is a TTY (a pipe or a log file gets nothing: the JSON log lines carry the
 * same facts), at most `fps` times per second, and always on the final update.
 */

export interface ProgressState {
  phase: string;
  /** Bytes of TD memory sent so far (payload). */
  sentBytes: number;
  /** Bytes the whole migration is expected to move (memory size), if known. */
  totalBytes?: number;
  round?: number;
  elapsedMs: number;
}

export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(chunk: string): boolean;
}

const MIB = 1024 * 1024;

/** One line for `state`, at most `width` columns. Pure: used by the bar and by tests. */
export function formatProgressLine(label: string, state: ProgressState, width = 100): string {
  const fraction = state.totalBytes && state.totalBytes > 0 ? Math.min(1, state.sentBytes / state.totalBytes) : undefined;
  const pct = fraction === undefined ? "  ?%" : `${Math.floor(fraction * 100)}%`.padStart(4);
  const round = state.round === undefined ? "" : ` round ${state.round}`;
  const amount =
    state.totalBytes === undefined ? `${(state.sentBytes / MIB).toFixed(1)} MiB` : `${(state.sentBytes / MIB).toFixed(1)}/${(state.totalBytes / MIB).toFixed(1)} MiB`;
  const rate = state.elapsedMs > 0 ? `${(state.sentBytes / MIB / (state.elapsedMs / 1000)).toFixed(1)} MiB/s` : "";
  const tail = ` ${pct} ${state.phase}${round}  ${amount}  ${rate}`.trimEnd();
  const barWidth = Math.max(10, Math.min(30, width - label.length - tail.length - 3));
  const filled = fraction === undefined ? 0 : Math.round(fraction * barWidth);
  const line = `${label} [${"#".repeat(filled)}${"·".repeat(barWidth - filled)}]${tail}`;
  return line.length > width ? line.slice(0, Math.max(0, width - 1)) + "…" : line;
}

export interface ProgressBar {
  readonly enabled: boolean;
  update(state: ProgressState): void;
  /** Draws the final state and moves to a new line. */
  finish(state: ProgressState, note?: string): void;
}

export function createProgressBar(
  label: string,
  options: { stream?: ProgressStream; fps?: number; now?: () => number } = {},
): ProgressBar {
  const stream: ProgressStream = options.stream ?? process.stderr;
  const now = options.now ?? (() => performance.now());
  const minIntervalMs = 1000 / (options.fps ?? 10);
  const enabled = stream.isTTY === true;
  let lastDraw = Number.NEGATIVE_INFINITY;
  let finished = false;
  const draw = (state: ProgressState, suffix: string) => {
    const width = stream.columns ?? 100;
    // \r back to column 0, draw, then erase whatever a longer previous line left behind (ESC[K).
    stream.write(`\r${formatProgressLine(label, state, width)}\x1b[K${suffix}`);
  };
  return {
    enabled,
    update(state) {
      if (!enabled || finished) return;
      const t = now();
      if (t - lastDraw < minIntervalMs) return;
      lastDraw = t;
      draw(state, "");
    },
    finish(state, note) {
      if (!enabled || finished) return;
      finished = true;
      draw(state, note === undefined ? "\n" : `  ${note}\n`);
    },
  };
}
