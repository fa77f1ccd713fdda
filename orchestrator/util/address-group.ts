/**
 * The group a remote address's per-address limits count against: an IPv4 address by itself (IPv4-mapped IPv6
 * addresses, `::ffff:a.b.c.d`, are the IPv4 address they map), an IPv6 address by its /64 prefix. One IPv6 host is
 * routinely given a whole /64 (2^64 addresses, SLAAC, privacy addresses), so counting single IPv6 addresses would let
 * one client open as many "addresses" as it likes; a /64 is what one site or subscriber holds.
 */
import { isIPv4, isIPv6 } from "node:net";

export function addressGroupOf(address: string): string {
  if (isIPv4(address)) return address;
  const unzoned = address.split("%")[0]!;
  if (!isIPv6(unzoned)) return address;
  const hextets = expandIPv6(unzoned);
  // ::ffff:a.b.c.d (and ::ffff:xxxx:xxxx): the IPv4 address.
  if (hextets.slice(0, 5).every((h) => h === 0) && hextets[5] === 0xffff) {
    return `${hextets[6]! >> 8}.${hextets[6]! & 0xff}.${hextets[7]! >> 8}.${hextets[7]! & 0xff}`;
  }
  return `${hextets.slice(0, 4).map((h) => h.toString(16)).join(":")}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, an embedded dotted IPv4 tail converted). */
function expandIPv6(address: string): number[] {
  let text = address.toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes("::") ? (text.split("::") as [string, string]) : [text, undefined];
  const parse = (part: string): number[] => (part === "" ? [] : part.split(":").map((h) => Number.parseInt(h, 16)));
  const left = parse(head);
  if (tail === undefined) return left;
  const right = parse(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}
