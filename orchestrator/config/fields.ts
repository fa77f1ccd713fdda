import { getAddress } from "ethers";

/**
 * A tiny validator for JSON configuration: each reader checks one field, and on a bad value records an issue
 * naming the field by its path ("capacity.tvmSlots"), the value found and what was expected, then carries on,
 * so one run reports every problem in the file at once.
 */

export interface ConfigIssue {
  /** Dotted path of the field, e.g. "pricing.basePriceWei". */
  field: string;
  /** The value found (undefined when the field is missing). */
  value: unknown;
  /** What the field must be, e.g. "an integer from 1 to 65535". */
  expected: string;
}

export function describeIssue(issue: ConfigIssue): string {
  const found = issue.value === undefined ? "missing" : `got ${renderValue(issue.value)}`;
  return `${issue.field}: expected ${issue.expected}, ${found}`;
}

function renderValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (typeof value === "bigint") return `${value}`;
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  if (typeof value === "object") return "an object";
  return String(value);
}

type Obj = Record<string, unknown>;

export class FieldReader {
  readonly issues: ConfigIssue[] = [];

  issue(field: string, value: unknown, expected: string): undefined {
    this.issues.push({ field, value, expected });
    return undefined;
  }

  /** Reports fields of `obj` that are not in `known` (typos must not pass silently). */
  noUnknownFields(obj: Obj, path: string, known: readonly string[]): void {
    for (const key of Object.keys(obj)) {
      if (!known.includes(key)) this.issue(join(path, key), obj[key], `no such field (known: ${known.join(", ")})`);
    }
  }

  object(obj: Obj, key: string, path: string, required: true): Obj | undefined;
  object(obj: Obj, key: string, path: string, required: false): Obj | undefined;
  object(obj: Obj, key: string, path: string, required: boolean): Obj | undefined {
    const value = obj[key];
    if (value === undefined && !required) return undefined;
    if (!isPlainObject(value)) return this.issue(join(path, key), value, "an object");
    return value;
  }

  string(obj: Obj, key: string, path: string, opts: { required: boolean; pattern?: RegExp; patternText?: string; allowed?: readonly string[] }): string | undefined {
    const value = obj[key];
    const field = join(path, key);
    if (value === undefined) return opts.required ? this.issue(field, value, opts.allowed ? `one of ${opts.allowed.join(", ")}` : "a string") : undefined;
    if (typeof value !== "string" || value.length === 0) return this.issue(field, value, "a non-empty string");
    if (opts.allowed && !opts.allowed.includes(value)) return this.issue(field, value, `one of ${opts.allowed.join(", ")}`);
    if (opts.pattern && !opts.pattern.test(value)) return this.issue(field, value, opts.patternText ?? `a string matching ${opts.pattern}`);
    return value;
  }

  integer(obj: Obj, key: string, path: string, opts: { required: boolean; min: number; max: number }): number | undefined {
    const value = obj[key];
    const field = join(path, key);
    const expected = opts.max === Number.MAX_SAFE_INTEGER ? `an integer >= ${opts.min}` : `an integer from ${opts.min} to ${opts.max}`;
    if (value === undefined) return opts.required ? this.issue(field, value, expected) : undefined;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < opts.min || value > opts.max) {
      return this.issue(field, value, expected);
    }
    return value;
  }

  number(obj: Obj, key: string, path: string, opts: { required: boolean; min: number; max: number }): number | undefined {
    const value = obj[key];
    const field = join(path, key);
    const expected = `a number from ${opts.min} to ${opts.max}`;
    if (value === undefined) return opts.required ? this.issue(field, value, expected) : undefined;
    if (typeof value !== "number" || !Number.isFinite(value) || value < opts.min || value > opts.max) return this.issue(field, value, expected);
    return value;
  }

  boolean(obj: Obj, key: string, path: string, required: boolean): boolean | undefined {
    const value = obj[key];
    if (value === undefined) return required ? this.issue(join(path, key), value, "true or false") : undefined;
    if (typeof value !== "boolean") return this.issue(join(path, key), value, "true or false");
    return value;
  }

  /**
   * An amount of wei: a decimal string (JSON numbers lose precision above 2^53) or a safe integer number.
   * Returns a bigint.
   */
  wei(obj: Obj, key: string, path: string, opts: { required: boolean; min?: bigint }): bigint | undefined {
    const value = obj[key];
    const field = join(path, key);
    const min = opts.min ?? 0n;
    const expected = `an amount of wei >= ${min} as a decimal string (e.g. "1000000000000000")`;
    if (value === undefined) return opts.required ? this.issue(field, value, expected) : undefined;
    let parsed: bigint | undefined;
    if (typeof value === "string" && /^[0-9]{1,78}$/.test(value)) parsed = BigInt(value);
    else if (typeof value === "number" && Number.isSafeInteger(value)) parsed = BigInt(value);
    if (parsed === undefined || parsed < min || parsed >= 2n ** 256n) return this.issue(field, value, expected);
    return parsed;
  }

  /** A 20-byte hex address (checksum not enforced: configs are often lower-case). */
  address(obj: Obj, key: string, path: string, required: boolean): string | undefined {
    const value = this.string(obj, key, path, { required, pattern: /^0x[0-9a-fA-F]{40}$/, patternText: "a 0x-prefixed 20-byte hex address" });
    if (value === undefined) return undefined;
    // Mixed case carries an EIP-55 checksum: a typo in it must not send funds to a wrong address.
    const hex = value.slice(2);
    if (hex !== hex.toLowerCase() && hex !== hex.toUpperCase()) {
      try {
        getAddress(value);
      } catch {
        return this.issue(join(path, key), value, "an address with a valid EIP-55 checksum (or all lower case)");
      }
    }
    return getAddress(value.toLowerCase());
  }

  /** An http(s) or ws(s) URL. */
  url(obj: Obj, key: string, path: string, required: boolean): string | undefined {
    const value = this.string(obj, key, path, { required });
    if (value === undefined) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      return this.issue(join(path, key), value, "a URL such as http://127.0.0.1:8545");
    }
    if (!["http:", "https:", "ws:", "wss:"].includes(parsed.protocol)) {
      return this.issue(join(path, key), value, "an http, https, ws or wss URL");
    }
    return value;
  }

  /** "host:port" with an IPv4 address or a host name and a port 0..65535 (0 = any free port). */
  hostPort(obj: Obj, key: string, path: string, required: boolean): { host: string; port: number } | undefined {
    const value = this.string(obj, key, path, { required });
    if (value === undefined) return undefined;
    const match = /^([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):([0-9]{1,5})$/.exec(value);
    const port = match ? Number(match[2]) : -1;
    if (!match || port > 65_535) return this.issue(join(path, key), value, 'an address "host:port" with a port from 0 to 65535');
    return { host: match[1]!.replace(/^\[|\]$/g, ""), port };
  }
}

export function isPlainObject(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}
