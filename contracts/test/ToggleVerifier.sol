// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IGroth16Verifier4} from "../interfaces/IGroth16Verifier4.sol";

/// @title ToggleVerifier
/// @notice TEST ONLY, NEVER DEPLOY: a stand-in verifier whose answer is a switch, not a proof check.
///         Used only where a real Groth16 proof cannot be made (the Solidity accounting invariant tests
///         and registry plumbing). The full-deal tests use the real snarkjs verifiers and real proofs.
contract ToggleVerifier is IGroth16Verifier4 {
    /// @notice The answer `verifyProof` gives.
    bool public accept;
    /// @notice The public signals of the last call seen by `record` (for plumbing tests).
    uint256[4] public lastSignals;

    /// @notice Creates the verifier.
    /// @param accept_ The initial answer.
    constructor(bool accept_) {
        accept = accept_;
    }

    /// @notice Sets the answer.
    /// @param accept_ The new answer.
    function setAccept(bool accept_) external {
        accept = accept_;
    }

    /// @inheritdoc IGroth16Verifier4
    function verifyProof(
        uint256[2] calldata,
        uint256[2][2] calldata,
        uint256[2] calldata,
        uint256[4] calldata
    ) external view returns (bool) {
        return accept;
    }
}
