// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {TcbLevel} from "../../contracts/libraries/TcbLevel.sol";
import {CheatcodeTest} from "./Vm.sol";

/// @notice Fuzz tests of the TCB comparison that {MigrationAuction-revealBid} applies.
contract TcbLevelTest is CheatcodeTest {
    /// Reference: index the 16 components as bytes, the way the quote lays them out.
    function _reference(bytes16 svn, uint16 version, bytes16 minSvn, uint16 minVersion) private pure returns (bool) {
        if (version < minVersion) return false;
        for (uint256 i = 0; i < 16; i++) {
            if (uint8(svn[i]) < uint8(minSvn[i])) return false;
        }
        return true;
    }

    function testFuzz_meets_agreesWithComponentwiseComparison(bytes16 svn, uint16 version, bytes16 minSvn, uint16 minVersion)
        public
        pure
    {
        assertTrue(
            TcbLevel.meets(svn, version, minSvn, minVersion) == _reference(svn, version, minSvn, minVersion), "meets"
        );
    }

    function testFuzz_meets_itselfAndNotOneComponentLess(bytes16 svn, uint16 version, uint256 component) public pure {
        assertTrue(TcbLevel.meets(svn, version, svn, version), "a level meets itself");
        component = bound(component, 0, 15);
        uint8 value = uint8(svn[component]);
        if (value == 0) return; // nothing below zero
        // The same level with one component lowered does not meet the original.
        bytes16 lower = bytes16(uint128(svn) - (uint128(1) << (8 * (15 - component))));
        assertTrue(!TcbLevel.meets(lower, version, svn, version), "one component below");
        if (version > 0) assertTrue(!TcbLevel.meets(svn, version - 1, svn, version), "an older module");
    }
}
