import { TvmxError } from "../errors/index.js";

/**
 * Counters, gauges and histograms rendered in the Prometheus text exposition format (version 0.0.4):
 *
 *   # HELP tvmx_migrations_total Migrations finished, by role and outcome.
 *   # TYPE tvmx_migrations_total counter
 *   tvmx_migrations_total{role="source",outcome="Committed"} 1
 */

export type Labels = Record<string, string>;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

abstract class Metric {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  abstract readonly type: "counter" | "gauge" | "histogram";

  constructor(name: string, help: string, labelNames: readonly string[]) {
    if (!NAME.test(name)) throw new TvmxError("METRICS_INVALID", `invalid metric name ${JSON.stringify(name)}`, { details: { name } });
    for (const l of labelNames) {
      if (!LABEL.test(l) || l.startsWith("__") || l === "le") {
        throw new TvmxError("METRICS_INVALID", `invalid label name ${JSON.stringify(l)} for ${name}`, { details: { name, label: l } });
      }
    }
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
  }

  /** The series key for a label set; rejects missing or unknown labels. */
  protected key(labels: Labels): string {
    const given = Object.keys(labels);
    if (given.length !== this.labelNames.length || !this.labelNames.every((l) => typeof labels[l] === "string")) {
      throw new TvmxError("METRICS_INVALID", `${this.name} takes labels {${this.labelNames.join(", ")}}, got {${given.join(", ")}}`, {
        details: { name: this.name, expected: this.labelNames, given },
      });
    }
    return this.labelNames.map((l) => `${l}="${escapeLabelValue(labels[l]!)}"`).join(",");
  }

  header(): string {
    return `# HELP ${this.name} ${this.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}\n# TYPE ${this.name} ${this.type}\n`;
  }

  abstract render(): string;
}

export class Counter extends Metric {
  readonly type = "counter" as const;
  readonly #values = new Map<string, number>();

  inc(labels: Labels = {}, amount = 1): void {
    if (!Number.isFinite(amount) || amount < 0) {
      throw new TvmxError("METRICS_INVALID", `${this.name}: a counter only goes up, got ${amount}`, { details: { name: this.name, amount } });
    }
    const key = this.key(labels);
    this.#values.set(key, (this.#values.get(key) ?? 0) + amount);
  }

  get(labels: Labels = {}): number {
    return this.#values.get(this.key(labels)) ?? 0;
  }

  render(): string {
    return this.header() + renderSeries(this.name, this.#values);
  }
}

export class Gauge extends Metric {
  readonly type = "gauge" as const;
  readonly #values = new Map<string, number>();

  set(labels: Labels, value: number): void {
    this.#values.set(this.key(labels), value);
  }

  inc(labels: Labels = {}, amount = 1): void {
    const key = this.key(labels);
    this.#values.set(key, (this.#values.get(key) ?? 0) + amount);
  }

  dec(labels: Labels = {}, amount = 1): void {
    this.inc(labels, -amount);
  }

  get(labels: Labels = {}): number {
    return this.#values.get(this.key(labels)) ?? 0;
  }

  render(): string {
    return this.header() + renderSeries(this.name, this.#values);
  }
}

interface HistogramSeries {
  buckets: number[];
  sum: number;
  count: number;
}

export class Histogram extends Metric {
  readonly type = "histogram" as const;
  readonly buckets: readonly number[];
  readonly #series = new Map<string, HistogramSeries>();

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    super(name, help, labelNames);
    const sorted = buckets.every((b, i) => Number.isFinite(b) && (i === 0 || b > buckets[i - 1]!));
    if (buckets.length === 0 || !sorted) {
      throw new TvmxError("METRICS_INVALID", `${name}: buckets must be finite and strictly increasing`, { details: { name, buckets } });
    }
    this.buckets = buckets;
  }

  observe(labels: Labels, value: number): void {
    if (Number.isNaN(value)) throw new TvmxError("METRICS_INVALID", `${this.name}: cannot observe NaN`, { details: { name: this.name } });
    const key = this.key(labels);
    let s = this.#series.get(key);
    if (!s) {
      s = { buckets: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.#series.set(key, s);
    }
    // Buckets are cumulative: a value counts in every bucket whose bound is >= it.
    this.buckets.forEach((bound, i) => {
      if (value <= bound) s.buckets[i]!++;
    });
    s.sum += value;
    s.count++;
  }

  count(labels: Labels = {}): number {
    return this.#series.get(this.key(labels))?.count ?? 0;
  }

  render(): string {
    let out = this.header();
    for (const [key, s] of this.#series) {
      const prefix = key === "" ? "" : `${key},`;
      this.buckets.forEach((bound, i) => {
        out += `${this.name}_bucket{${prefix}le="${formatNumber(bound)}"} ${s.buckets[i]}\n`;
      });
      out += `${this.name}_bucket{${prefix}le="+Inf"} ${s.count}\n`;
      out += `${this.name}_sum${key === "" ? "" : `{${key}}`} ${formatNumber(s.sum)}\n`;
      out += `${this.name}_count${key === "" ? "" : `{${key}}`} ${s.count}\n`;
    }
    return out;
  }
}

export class MetricsRegistry {
  readonly #metrics = new Map<string, Metric>();

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.#add(new Counter(name, help, labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.#add(new Gauge(name, help, labelNames));
  }

  histogram(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]): Histogram {
    return this.#add(new Histogram(name, help, labelNames, buckets));
  }

  #add<M extends Metric>(metric: M): M {
    if (this.#metrics.has(metric.name)) {
      throw new TvmxError("METRICS_INVALID", `metric ${metric.name} is already registered`, { details: { name: metric.name } });
    }
    this.#metrics.set(metric.name, metric);
    return metric;
  }

  /** The whole registry in the text exposition format. */
  render(): string {
    return [...this.#metrics.values()].map((m) => m.render()).join("");
  }
}

function renderSeries(name: string, values: Map<string, number>): string {
  let out = "";
  for (const [key, value] of values) out += `${name}${key === "" ? "" : `{${key}}`} ${formatNumber(value)}\n`;
  return out;
}

export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function formatNumber(n: number): string {
  if (n === Number.POSITIVE_INFINITY) return "+Inf";
  if (n === Number.NEGATIVE_INFINITY) return "-Inf";
  if (Number.isNaN(n)) return "NaN";
  return String(n);
}
