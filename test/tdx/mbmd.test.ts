import { expect } from "chai";
import {
  buildIv,
  decodeMbmd,
  encodeMbmd,
  GPA_LIST_ENTRY_SIZE,
  IV_SIZE,
  MAC_SIZE,
  MAX_MIGS,
  MB_TYPE,
  MBMD_AAD_SIZE,
  MBMD_HEADER_SIZE,
  MBMD_OFFSET,
  MBMD_SIZE,
  MIG_EPOCH_START_TOKEN,
  peekMbmdHeader,
  readGpaEntry,
  TDX_STATUS,
  writeGpaEntry,
  type Mbmd,
  type MbmdFields,
} from "../../orchestrator/tdx/index.js";
import { expectStatus } from "./harness.js";

const mac = Buffer.alloc(MAC_SIZE, 0xab);
const base = { migVersion: 1, migsIndex: 3, mbCounter: 0x01020304, migEpoch: 7, ivCounter: 0x1122334455667788n, mac };

function mbmd(fields: MbmdFields): Buffer {
  return encodeMbmd({ ...base, mbType: fields.mbType, fields } as Omit<Mbmd, "size">);
}

describe("MBMD codec", () => {
  it("has the TDX sizes: 24-byte header, 8 bytes of type fields, 16-byte MAC", () => {
    expect(MBMD_HEADER_SIZE).to.equal(24);
    expect(MBMD_AAD_SIZE).to.equal(32);
    expect(MBMD_SIZE).to.equal(48);
    expect(GPA_LIST_ENTRY_SIZE).to.equal(8);
    expect(MBMD_OFFSET).to.deep.equal({ size: 0, migVersion: 2, migsIndex: 4, mbType: 6, reserved: 7, mbCounter: 8, migEpoch: 12, ivCounter: 16, fields: 24, mac: 32 });
  });

  it("lays out every header field little-endian at its offset", () => {
    const b = mbmd({ mbType: MB_TYPE.MEM, numGpas: 0x0102 });
    expect(b.length).to.equal(48);
    expect(b.subarray(0, 2).toString("hex")).to.equal("3000"); // size 48
    expect(b.subarray(2, 4).toString("hex")).to.equal("0100");
    expect(b.subarray(4, 6).toString("hex")).to.equal("0300");
    expect(b[6]).to.equal(16);
    expect(b[7]).to.equal(0);
    expect(b.subarray(8, 12).toString("hex")).to.equal("04030201");
    expect(b.subarray(12, 16).toString("hex")).to.equal("07000000");
    expect(b.subarray(16, 24).toString("hex")).to.equal("8877665544332211");
    expect(b.subarray(24, 32).toString("hex")).to.equal("0201000000000000");
    expect(b.subarray(32, 48).equals(mac)).to.equal(true);
  });

  it("round-trips every bundle type with its type fields", () => {
    const cases: MbmdFields[] = [
      { mbType: MB_TYPE.IMMUTABLE_TD_STATE, numFMigs: 2, numSysMdPages: 1 },
      { mbType: MB_TYPE.MUTABLE_TD_STATE },
      { mbType: MB_TYPE.MUTABLE_VCPU_STATE, vpIndex: 5 },
      { mbType: MB_TYPE.MEM, numGpas: 512 },
      { mbType: MB_TYPE.EPOCH_TOKEN, totalMb: 0x1_0000_0001n },
      { mbType: MB_TYPE.ABORT_TOKEN },
    ];
    for (const fields of cases) {
      const decoded = decodeMbmd(mbmd(fields));
      expectStatus(decoded.status, TDX_STATUS.TDX_SUCCESS);
      expect(decoded.mbmd!.fields).to.deep.equal(fields);
      expect(decoded.mbmd!.ivCounter).to.equal(base.ivCounter);
      expect(decoded.mbmd!.mbCounter).to.equal(base.mbCounter);
      expect(decoded.mbmd!.migsIndex).to.equal(3);
      expect(decoded.mbmd!.mac.equals(mac)).to.equal(true);
    }
  });

  it("encodes the start token's epoch as 0xFFFFFFFF", () => {
    const b = encodeMbmd({ ...base, migEpoch: MIG_EPOCH_START_TOKEN, mbType: MB_TYPE.EPOCH_TOKEN, fields: { mbType: MB_TYPE.EPOCH_TOKEN, totalMb: 9n } });
    expect(b.readUInt32LE(12)).to.equal(0xffffffff);
    expect(decodeMbmd(b).mbmd!.migEpoch).to.equal(MIG_EPOCH_START_TOKEN);
  });

  it("peeks the header of a partial bundle and refuses fewer than 24 bytes", () => {
    const b = mbmd({ mbType: MB_TYPE.MEM, numGpas: 1 });
    expect(peekMbmdHeader(b.subarray(0, 24))!.migsIndex).to.equal(3);
    expect(peekMbmdHeader(b.subarray(0, 23))).to.equal(undefined);
  });

  describe("rejects a malformed MBMD", () => {
    const good = (): Buffer => mbmd({ mbType: MB_TYPE.MEM, numGpas: 4 });

    it("shorter than 48 bytes", () => {
      expectStatus(decodeMbmd(good().subarray(0, 47)).status, TDX_STATUS.TDX_INVALID_MBMD_LENGTH);
    });
    it("with a wrong size field", () => {
      const b = good();
      b.writeUInt16LE(40, 0);
      expectStatus(decodeMbmd(b).status, TDX_STATUS.TDX_INVALID_MBMD_SIZE);
    });
    it("with migs_index beyond the stream table", () => {
      const b = good();
      b.writeUInt16LE(MAX_MIGS, 4);
      expectStatus(decodeMbmd(b).status, TDX_STATUS.TDX_INVALID_MBMD_MIGS_INDEX);
    });
    it("with an unknown mb_type", () => {
      for (const t of [3, 15, 17, 31, 34, 255]) {
        const b = good();
        b[6] = t;
        expectStatus(decodeMbmd(b).status, TDX_STATUS.TDX_INVALID_MBMD_MB_TYPE);
      }
    });
    it("with the reserved byte set", () => {
      const b = good();
      b[7] = 1;
      expectStatus(decodeMbmd(b).status, TDX_STATUS.TDX_INVALID_MBMD_RESERVED);
    });
    it("with reserved bits of the type fields set, for every type", () => {
      const reservedByte: [MbmdFields, number][] = [
        [{ mbType: MB_TYPE.IMMUTABLE_TD_STATE, numFMigs: 1, numSysMdPages: 0 }, 2],
        [{ mbType: MB_TYPE.IMMUTABLE_TD_STATE, numFMigs: 1, numSysMdPages: 0 }, 7],
        [{ mbType: MB_TYPE.MUTABLE_TD_STATE }, 0],
        [{ mbType: MB_TYPE.MUTABLE_VCPU_STATE, vpIndex: 1 }, 2],
        [{ mbType: MB_TYPE.MEM, numGpas: 1 }, 7],
        [{ mbType: MB_TYPE.ABORT_TOKEN }, 3],
      ];
      for (const [fields, at] of reservedByte) {
        const b = mbmd(fields);
        b[24 + at] = 0x80;
        expectStatus(decodeMbmd(b).status, TDX_STATUS.TDX_INVALID_MBMD_FIELDS_RESERVED);
      }
    });
  });
});

describe("IV construction", () => {
  it("is iv_counter (u64 LE) || migs_index (u16 LE) || 0 (u16)", () => {
    const iv = buildIv(0x0102030405060708n, 0x0a0b);
    expect(IV_SIZE).to.equal(12);
    expect(iv.toString("hex")).to.equal("0807060504030201" + "0b0a" + "0000");
  });

  it("differs for the same counter on two streams", () => {
    expect(buildIv(5n, 0).equals(buildIv(5n, 1))).to.equal(false);
  });
});

describe("GPA list entries", () => {
  it("encode a 4 KiB MIGRATE entry and decode it back", () => {
    const b = Buffer.alloc(8);
    writeGpaEntry(b, 0, 0x12345000);
    expect(b.toString("hex")).to.equal("0050341200000040");
    expect(readGpaEntry(b, 0)).to.equal(0x12345000);
  });

  it("reject a non-zero level, reserved bits or another operation", () => {
    const good = Buffer.alloc(8);
    writeGpaEntry(good, 0, 0x3000);
    const level = Buffer.from(good);
    level[0] = 1;
    const reservedLow = Buffer.from(good);
    reservedLow[1]! |= 0x04;
    const reservedHigh = Buffer.from(good);
    reservedHigh[6]! |= 0x10;
    const cancel = Buffer.from(good);
    cancel[7] = 0x80;
    for (const bad of [level, reservedLow, reservedHigh, cancel]) expect(readGpaEntry(bad, 0)).to.equal(-1);
  });
});
