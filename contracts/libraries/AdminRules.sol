// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @dev Delay of a DEFAULT_ADMIN_ROLE transfer in every contract of the suite (OpenZeppelin
/// AccessControlDefaultAdminRules): the new admin accepts no earlier than a day after the transfer began, so a
/// transfer to a wrong or hostile address is seen on-chain and can be cancelled before it takes effect, and a
/// mistyped address never becomes admin (it cannot accept).
uint48 constant ADMIN_TRANSFER_DELAY = 1 days;
