// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title TcbLevel
/// @notice Whether a platform's TCB meets a requirement, as TDX compares TCB levels: every one of the 16
/// TEE_TCB_SVN components at least the required one, and the TDX module version (`major << 8 | minor`) at least
/// the required one.
library TcbLevel {
    /// @dev The low byte of every 16-bit lane of a word.
    uint256 private constant LOW_BYTES = 0x00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff;
    /// @dev Bit 8 of every 16-bit lane: the borrow guard.
    uint256 private constant GUARDS = 0x0100010001000100010001000100010001000100010001000100010001000100;

    function meets(bytes16 teeTcbSvn, uint16 tdxModuleVersion, bytes16 minTeeTcbSvn, uint16 minTdxModuleVersion)
        internal
        pure
        returns (bool)
    {
        if (tdxModuleVersion < minTdxModuleVersion) return false;
        // All 16 components at once: each SVN byte gets its own 16-bit lane with a guard bit above it; subtracting
        // lane by lane clears a lane's guard exactly when that component is below the required one (a lane never
        // borrows from the next, since guard | have >= need).
        unchecked {
            return ((_spread(uint128(teeTcbSvn)) | GUARDS) - _spread(uint128(minTeeTcbSvn))) & GUARDS == GUARDS;
        }
    }

    /// @dev Byte i of `x` to the low byte of 16-bit lane i.
    function _spread(uint128 x) private pure returns (uint256 y) {
        y = uint256(x);
        y = (y | (y << 64)) & 0x0000000000000000ffffffffffffffff0000000000000000ffffffffffffffff;
        y = (y | (y << 32)) & 0x00000000ffffffff00000000ffffffff00000000ffffffff00000000ffffffff;
        y = (y | (y << 16)) & 0x0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff;
        y = (y | (y << 8)) & LOW_BYTES;
    }
}
