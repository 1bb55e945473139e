// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IGroth16Verifier5
/// @notice The call interface of a snarkjs-generated Groth16 verifier with 5 public signals (the chunk
///         verifiers of the chunked module variant, `contracts/verifiers/Groth16Chunk*.sol`).
/// @dev Returns false (never reverts) for a proof that does not verify or a public signal not below the
///      BN254 scalar field modulus.
interface IGroth16Verifier5 {
    /// @notice Checks a Groth16 proof against the verifier's fixed verification key.
    /// @param _pA The proof's A point (G1).
    /// @param _pB The proof's B point (G2), each coordinate pair swapped.
    /// @param _pC The proof's C point (G1).
    /// @param _pubSignals The 5 public signals.
    /// @return True when the proof verifies.
    function verifyProof(
        uint256[2] calldata _pA,
        uint256[2][2] calldata _pB,
        uint256[2] calldata _pC,
        uint256[5] calldata _pubSignals
    ) external view returns (bool);
}
