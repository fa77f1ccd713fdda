/** Formatting shared by the CLI and the demo. */

/** Wei as ether with up to 6 decimals, and the exact wei in parentheses. */
export function formatWei(wei: bigint | string | undefined): string {
  if (wei === undefined) return "-";
  const w = BigInt(wei);
  const whole = w / 10n ** 18n;
  const frac = (w % 10n ** 18n).toString().padStart(18, "0").slice(0, 6).replace(/0+$/, "");
  return `${whole}${frac ? `.${frac}` : ""} ETH (${w} wei)`;
}
