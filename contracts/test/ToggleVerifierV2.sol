// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {LoraModuleVerifierV2} from "../v2/LoraModuleVerifierV2.sol";

/// @title ToggleVerifierV2
/// @notice TEST ONLY, NEVER DEPLOY: a stand-in for `LoraModuleVerifierV2` whose answer is a switch, not a proof
///         check, for the Solidity accounting invariants of `LoraEscrowV2` (where no real proof can be made).
///         The deal tests use the real verifier and real proofs.
contract ToggleVerifierV2 {
    /// @notice The shape id it answers for.
    bytes32 public immutable shapeId;
    /// @notice A key hash (any value).
    bytes32 public constant keyHash = keccak256("toggle");
    /// @notice The answer of `verify` and `verifyBatch`.
    bool public accept = true;

    /// @notice Creates the stand-in for one shape id.
    /// @param shapeId_ The shape id.
    constructor(bytes32 shapeId_) {
        shapeId = shapeId_;
    }

    /// @notice Sets the answer.
    /// @param accept_ The new answer.
    function setAccept(bool accept_) external {
        accept = accept_;
    }

    /// @notice The switch's answer.
    /// @return `accept`.
    function verify(
        LoraModuleVerifierV2.Proof calldata,
        LoraModuleVerifierV2.Statement calldata,
        uint256[4] calldata
    ) external view returns (bool) {
        return accept;
    }

    /// @notice The switch's answer.
    /// @return `accept`.
    function verifyBatch(
        LoraModuleVerifierV2.Proof[] calldata,
        LoraModuleVerifierV2.Statement[] calldata,
        uint256[4] calldata
    ) external view returns (bool) {
        return accept;
    }
}
