// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title ReentrantToken
/// @notice TEST ONLY: an ERC-20 that, when the escrow sends tokens out, calls back into the escrow
///         (`settle` or `refund` of a chosen deal) in the middle of the transfer and records how that
///         re-entry ended. The escrow must block it and pay exactly once.
contract ReentrantToken is ERC20 {
    /// @notice What to call on the escrow during its outgoing transfer.
    enum Attack {
        None,
        Settle,
        Refund
    }

    /// @notice The escrow to re-enter.
    address public victim;
    /// @notice The deal to re-enter with.
    uint256 public dealId;
    /// @notice The armed attack.
    Attack public attack;
    /// @notice How many re-entries were tried.
    uint256 public attempts;
    /// @notice Whether a re-entry call succeeded (must stay false).
    bool public reentrySucceeded;
    /// @notice The revert data of the last failed re-entry.
    bytes public lastError;

    constructor() ERC20("Reentrant Token", "REEN") {}

    /// @notice Mints `amount` to `to` (anyone may call; test only).
    /// @param to The receiver.
    /// @param amount The amount.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Arms the attack.
    /// @param victim_ The escrow.
    /// @param dealId_ The deal.
    /// @param attack_ What to call.
    function arm(address victim_, uint256 dealId_, Attack attack_) external {
        victim = victim_;
        dealId = dealId_;
        attack = attack_;
    }

    /// @notice The selector of the last failed re-entry's custom error (zero when none).
    /// @return The selector.
    function lastErrorSelector() external view returns (bytes4) {
        return lastError.length >= 4 ? bytes4(lastError) : bytes4(0);
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (from == victim && victim != address(0) && attack != Attack.None) {
            Attack current = attack;
            attack = Attack.None; // one try per transfer
            ++attempts;
            bytes memory callData =
                current == Attack.Settle
                    ? abi.encodeWithSignature("settle(uint256)", dealId)
                    : abi.encodeWithSignature("refund(uint256)", dealId);
            (bool ok, bytes memory ret) = victim.call(callData);
            if (ok) reentrySucceeded = true;
            else lastError = ret;
        }
    }
}
