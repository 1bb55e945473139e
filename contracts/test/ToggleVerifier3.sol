// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IGroth16Verifier3} from "../interfaces/IGroth16Verifier3.sol";

/// @title ToggleVerifier3
/// @notice TEST ONLY, NEVER DEPLOY: a stand-in delivery verifier (3 public signals) whose answer is a
///         switch, for the Solidity state-machine tests. The real-proof delivery tests are in
///         test/contracts/delivery.test.ts.
contract ToggleVerifier3 is IGroth16Verifier3 {
    /// @notice The answer `verifyProof` gives.
    bool public accept;

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

    /// @inheritdoc IGroth16Verifier3
    function verifyProof(
        uint256[2] calldata,
        uint256[2][2] calldata,
        uint256[2] calldata,
        uint256[3] calldata
    ) external view returns (bool) {
        return accept;
    }
}
