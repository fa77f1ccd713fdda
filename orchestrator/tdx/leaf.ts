/**
 * SEAMCALL leaf numbers. The TDX ones are Intel's (TDX Module 1.5 `seamcall_leaf_opcode_t`); the model's own
 * migration-initiation instruction, TDH.MIG.INITIATE, takes a number far outside Intel's range (0..0xFE)
 * so that it can never collide with a real leaf.
 */
export const LEAF = {
  "TDH.EXPORT.ABORT": 64,
  "TDH.EXPORT.BLOCKW": 65,
  "TDH.EXPORT.RESTORE": 66,
  "TDH.EXPORT.MEM": 68,
  "TDH.EXPORT.PAUSE": 70,
  "TDH.EXPORT.TRACK": 71,
  "TDH.EXPORT.STATE.IMMUTABLE": 72,
  "TDH.EXPORT.STATE.TD": 73,
  "TDH.EXPORT.STATE.VP": 74,
  "TDH.EXPORT.UNBLOCKW": 75,
  "TDH.IMPORT.ABORT": 80,
  "TDH.IMPORT.END": 81,
  "TDH.IMPORT.COMMIT": 82,
  "TDH.IMPORT.MEM": 83,
  "TDH.IMPORT.TRACK": 84,
  "TDH.IMPORT.STATE.IMMUTABLE": 85,
  "TDH.IMPORT.STATE.TD": 86,
  "TDH.IMPORT.STATE.VP": 87,
  "TDH.MIG.STREAM.CREATE": 96,
  /** The model's own leaf: produce the signed migration request descriptor for a TD. */
  "TDH.MIG.INITIATE": 0x7f01,
} as const;

export type LeafName = keyof typeof LEAF;
export type LeafNumber = (typeof LEAF)[LeafName];

const NAME_BY_NUMBER = new Map<number, LeafName>(Object.entries(LEAF).map(([n, v]) => [v, n as LeafName]));

export function leafName(leaf: number): LeafName | undefined {
  return NAME_BY_NUMBER.get(leaf);
}
