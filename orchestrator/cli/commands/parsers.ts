/** commander argument parsers for the host, TD and migration commands. */
import { InvalidArgumentError } from "commander";
import { getAddress, isAddress } from "ethers";

/** An integer in [min, max]. */
export function intIn(min: number, max: number): (value: string) => number {
  return (value) => {
    if (!/^-?[0-9]+$/.test(value.trim())) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}, got ${value}`);
    return n;
  };
}

/** A positive amount of wei, as a decimal integer (kept as a decimal string: JSON numbers lose precision). */
export function weiAmount(value: string): string {
  if (!/^[0-9]{1,30}$/.test(value) || BigInt(value) === 0n) throw new InvalidArgumentError("expected a positive whole number of wei, e.g. 100000000000000000");
  return BigInt(value).toString();
}

/** A 32-byte id, 0x-hex (a TVM id). */
export function bytes32(value: string): string {
  if (!/^0x[0-9a-fA-F]{64}$/.test(value)) throw new InvalidArgumentError("expected 32 bytes of 0x-hex (66 characters)");
  return value.toLowerCase();
}

/** An auction id (a non-negative integer). */
export function auctionId(value: string): string {
  if (!/^[0-9]{1,20}$/.test(value)) throw new InvalidArgumentError("expected an auction id (a whole number)");
  return value;
}

/** An EIP-55 address (mixed case must carry a valid checksum). */
export function address(value: string): string {
  if (!isAddress(value)) throw new InvalidArgumentError("expected an address (0x followed by 40 hex digits, valid checksum when mixed case)");
  return getAddress(value);
}

/** An http(s) JSON-RPC URL. */
export function rpcUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError("expected a URL such as http://127.0.0.1:8545");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new InvalidArgumentError(`expected an http or https URL, got ${url.protocol}`);
  return value;
}
