// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {LoraEscrow} from "../LoraEscrow.sol";

/// @title ReentrantReceiver
/// @notice TEST ONLY: a contract that acts as a deal's contributor or buyer and, when the escrow pays
///         it ETH, calls back into the escrow (`settle` or `refund`) and records how that ended; it can
///         also refuse ETH. The escrow must block the re-entry and pay exactly once.
contract ReentrantReceiver {
    /// @notice What to do when ETH arrives.
    enum Mode {
        Accept,
        ReenterSettle,
        ReenterRefund,
        Reject
    }

    /// @notice The escrow.
    LoraEscrow public immutable escrow;
    /// @notice The deal to re-enter with.
    uint256 public dealId;
    /// @notice The behaviour on receiving ETH.
    Mode public mode;
    /// @notice How many re-entries were tried.
    uint256 public attempts;
    /// @notice Whether a re-entry call succeeded (must stay false).
    bool public reentrySucceeded;
    /// @notice The revert data of the last failed re-entry.
    bytes public lastError;
    /// @notice ETH received in total.
    uint256 public received;

    /// @notice Thrown by `receive` in `Reject` mode.
    error Rejected();

    /// @param escrow_ The escrow to act on.
    constructor(LoraEscrow escrow_) {
        escrow = escrow_;
    }

    /// @notice Sets the behaviour on receiving ETH.
    /// @param dealId_ The deal to re-enter with.
    /// @param mode_ The behaviour.
    function arm(uint256 dealId_, Mode mode_) external {
        dealId = dealId_;
        mode = mode_;
    }

    /// @notice Proposes a deal as contributor.
    /// @return The deal id.
    function propose(
        uint256 price,
        address token,
        address buyer,
        bytes32 baseModelHash,
        LoraEscrow.ModuleSpec[] calldata modules,
        uint256 provingWindow
    ) external returns (uint256) {
        return escrow.propose(price, token, buyer, baseModelHash, modules, provingWindow);
    }

    /// @notice Funds a deal as buyer with the ETH sent along.
    function fund(uint256 dealId_, LoraEscrow.EntryInput[] calldata entries) external payable {
        escrow.fund{value: msg.value}(dealId_, entries);
    }

    /// @notice The selector of the last failed re-entry's custom error (zero when none).
    /// @return The selector.
    function lastErrorSelector() external view returns (bytes4) {
        return lastError.length >= 4 ? bytes4(lastError) : bytes4(0);
    }

    receive() external payable {
        Mode current = mode;
        if (current == Mode.Reject) revert Rejected();
        received += msg.value;
        if (current == Mode.Accept) return;
        mode = Mode.Accept; // one try
        ++attempts;
        bytes memory callData =
            current == Mode.ReenterSettle
                ? abi.encodeCall(LoraEscrow.settle, (dealId))
                : abi.encodeCall(LoraEscrow.refund, (dealId));
        (bool ok, bytes memory ret) = address(escrow).call(callData);
        if (ok) reentrySucceeded = true;
        else lastError = ret;
    }
}
