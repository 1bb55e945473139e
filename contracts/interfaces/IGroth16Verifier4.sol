// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IGroth16Verifier4
/// @notice The interface of a snarkjs 0.7.6 Groth16 verifier with four public signals, as generated
///         from `snarkjs/templates/verifier_groth16.sol.ejs` (`contracts/verifiers/Groth16Verifier_<shape>.sol`).
/// @dev For a zklora module proof the public signals are, in this order, `[C_m, hX, rho, fY]`
///      (see ARCHITECTURE.md). `_pB` takes each G2 coordinate pair swapped (`[[b01, b00], [b11, b10]]`),
///      which is the order snarkjs's `exportSolidityCallData` prints. A generated verifier returns `false`
///      (it never reverts) for a wrong proof, a point off the curve or a public signal that is not
///      below the BN254 scalar field modulus.
interface IGroth16Verifier4 {
    /// @notice Checks a Groth16 proof against the verifier's fixed verification key.
    /// @param _pA The proof's A point (G1).
    /// @param _pB The proof's B point (G2), each coordinate pair swapped.
    /// @param _pC The proof's C point (G1).
    /// @param _pubSignals The four public signals.
    /// @return True when the proof verifies.
    function verifyProof(
        uint256[2] calldata _pA,
        uint256[2][2] calldata _pB,
        uint256[2] calldata _pC,
        uint256[4] calldata _pubSignals
    ) external view returns (bool);
}
