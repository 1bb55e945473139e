// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IGroth16BatchVerifierN
/// @notice Checks many Groth16 proofs (BN254, snarkjs 0.7.6 conventions) against one verification key with
///         N public signals (1 <= N <= 8) in a single pairing check; implemented by `Groth16BatchVerifierN`
///         (`ChunkedModuleVerifier` batches a module's A chunk proofs, N = 5, and its B chunk proofs, N = 6).
/// @dev A batch verifier accepts a batch exactly when the snarkjs verifier of the same key accepts every
///      proof in it (up to a soundness error below 2^-128, see `Groth16BatchVerifierN`). Malformed input
///      (an empty batch, a proof without exactly N signals, a public signal not below p, a coordinate not
///      below q, an A or C off the curve) reverts with the errors below; a well-formed batch that fails the
///      check returns `false`.
interface IGroth16BatchVerifierN {
    /// @notice One proof with its public signals.
    /// @param a The A point (G1).
    /// @param b The B point (G2), each coordinate pair swapped as in snarkjs's Solidity call data
    ///        (`[[b01, b00], [b11, b10]]`), i.e. the EIP-197 order.
    /// @param c The C point (G1).
    /// @param signals The public signals in circuit order, exactly `publicSignalCount()` of them.
    struct BatchProof {
        uint256[2] a;
        uint256[2][2] b;
        uint256[2] c;
        uint256[] signals;
    }

    /// @notice A batch needs at least one proof.
    error EmptyBatch();
    /// @notice Proof `proofIndex` has `got` public signals; the key has `expected`.
    error WrongSignalCount(uint256 proofIndex, uint256 expected, uint256 got);
    /// @notice Public signal `signalIndex` of proof `proofIndex` is not below the scalar field modulus p.
    error SignalNotInField(uint256 proofIndex, uint256 signalIndex, uint256 value);
    /// @notice A coordinate of proof `proofIndex` is not below the base field modulus q.
    error CoordinateNotInField(uint256 proofIndex, uint256 value);
    /// @notice Point A (`isC == false`) or C (`isC == true`) of proof `proofIndex` is not on the BN254 curve.
    error PointNotOnCurve(uint256 proofIndex, bool isC);

    /// @notice Checks every proof of `proofs` against the verifier's key, in one pairing check.
    /// @param proofs The proofs with their public signals (at least one).
    /// @return True when every proof verifies.
    function verifyBatch(BatchProof[] calldata proofs) external view returns (bool);

    /// @notice N, the number of public signals of the key.
    /// @return The count.
    function publicSignalCount() external view returns (uint256);

    /// @notice `keccak256(abi.encode(VerificationKey))` of the verifier's key (it seeds the batch challenge).
    /// @return The hash.
    function verificationKeyHash() external view returns (bytes32);
}
