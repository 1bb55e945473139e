// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IGroth16Verifier3
/// @notice The interface of a snarkjs 0.7.6 Groth16 verifier with three public signals, as generated
///         from `snarkjs/templates/verifier_groth16.sol.ejs` (`contracts/verifiers/Groth16Delivery_<shape>.sol`).
/// @dev For a zklora delivery proof the public signals are, in this order, `[C_m, hK, hC]`: the module's
///      weight commitment, the Poseidon hash of the delivery key and the sponge hash of the ciphertext
///      (circuits/README.md, "Delivery"). `_pB` takes each G2 coordinate pair swapped. A generated
///      verifier returns `false` (it never reverts) for a wrong proof or a signal not below p.
interface IGroth16Verifier3 {
    /// @notice Checks a Groth16 proof against the verifier's fixed verification key.
    /// @param _pA The proof's A point (G1).
    /// @param _pB The proof's B point (G2), each coordinate pair swapped.
    /// @param _pC The proof's C point (G1).
    /// @param _pubSignals The three public signals.
    /// @return True when the proof verifies.
    function verifyProof(
        uint256[2] calldata _pA,
        uint256[2][2] calldata _pB,
        uint256[2] calldata _pC,
        uint256[3] calldata _pubSignals
    ) external view returns (bool);
}
