import { expect } from "chai";
import { addressGroupOf } from "../../orchestrator/util/index.js";

describe("util/addressGroupOf: what per-address limits count", () => {
  it("counts an IPv4 address by itself, also when it comes IPv4-mapped", () => {
    expect(addressGroupOf("127.0.0.1")).to.equal("127.0.0.1");
    expect(addressGroupOf("::ffff:127.0.0.2")).to.equal("127.0.0.2");
    expect(addressGroupOf("::FFFF:7f00:3")).to.equal("127.0.0.3");
  });

  it("counts every address of one IPv6 /64 as one, and different /64s apart", () => {
    const group = addressGroupOf("2001:db8:1:2::1");
    expect(group).to.equal("2001:db8:1:2::/64");
    for (const other of ["2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:0db8:0001:0002:0:0:0:7", "2001:DB8:1:2:a:b:c:d%eth0"]) {
      expect(addressGroupOf(other), other).to.equal(group);
    }
    expect(addressGroupOf("2001:db8:1:3::1")).to.not.equal(group);
    expect(addressGroupOf("::1")).to.equal("0:0:0:0::/64");
    expect(addressGroupOf("fe80::1:2:3:4")).to.equal("fe80:0:0:0::/64");
    expect(addressGroupOf("64:ff9b::192.0.2.33")).to.equal("64:ff9b:0:0::/64");
  });

  it("leaves anything that is not an IP address as it is", () => {
    expect(addressGroupOf("unknown")).to.equal("unknown");
  });
});
