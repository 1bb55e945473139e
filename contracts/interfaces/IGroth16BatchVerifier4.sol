// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IGroth16BatchVerifier4
/// @notice Checks many Groth16 proofs (BN254, four public signals) against one verification key in a
///         single pairing check; implemented by `Groth16BatchVerifier`.
/// @dev A batch verifier accepts a batch exactly when the snarkjs verifier of the same key accepts every
///      proof in it (up to a soundness error below 2^-128, see `Groth16BatchVerifier`). Malformed input
///      (an empty batch, a public signal not below p, a coordinate not below q, an A or C off the curve)
///      reverts with the errors below; a well-formed batch that fails the check returns `false`.
interface IGroth16BatchVerifier4 {
    /// @notice One proof with its public signals.
    /// @param a The A point (G1).
    /// @param b The B point (G2), each coordinate pair swapped as in snarkjs's Solidity call data
    ///        (`[[b01, b00], [b11, b10]]`), i.e. the EIP-197 order.
    /// @param c The C point (G1).
    /// @param signals The four public signals (for a zklora module proof `[C_m, hX, rho, fY]`).
    struct BatchProof {
        uint256[2] a;
        uint256[2][2] b;
        uint256[2] c;
        uint256[4] signals;
    }

    /// @notice A batch needs at least one proof.
    error EmptyBatch();
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

    /// @notice Checks one proof: exactly the check of the snarkjs verifier of the same key (no randomness,
    ///         no hashing), with the input checks of `verifyBatch` (its errors, proof index 0).
    /// @param a The A point (G1).
    /// @param b The B point (G2), each coordinate pair swapped as in `BatchProof`.
    /// @param c The C point (G1).
    /// @param signals The four public signals.
    /// @return True when the proof verifies.
    function verifyProof(
        uint256[2] calldata a,
        uint256[2][2] calldata b,
        uint256[2] calldata c,
        uint256[4] calldata signals
    ) external view returns (bool);

    /// @notice `IC_0 + x0·IC_1` of the key: the part of `vk_x` that depends only on the first public signal
    ///         (for a zklora module proof `C_m`, fixed for a deal's module), for `verifyProofFromBase`.
    /// @param x0 The first public signal (below p, else `SignalNotInField(0, 0, x0)`).
    /// @return base The G1 point `(x, y)`.
    function signalBase(uint256 x0) external view returns (uint256[2] memory base);

    /// @notice `verifyProof(a, b, c, [x0, rest[0], rest[1], rest[2]])` for the `x0` with
    ///         `base == signalBase(x0)`: saves one ecMul and one ecAdd per proof when the first signal
    ///         repeats. The answer means nothing for a `base` not computed by `signalBase` of this
    ///         verifier: the caller must store `signalBase(x0)` itself (LoraEscrow does, at funding).
    /// @param a The A point (G1).
    /// @param b The B point (G2), each coordinate pair swapped as in `BatchProof`.
    /// @param c The C point (G1).
    /// @param base `signalBase(x0)`.
    /// @param rest The public signals after the first.
    /// @return True when the proof verifies for the signals `[x0, rest…]`.
    function verifyProofFromBase(
        uint256[2] calldata a,
        uint256[2][2] calldata b,
        uint256[2] calldata c,
        uint256[2] calldata base,
        uint256[3] calldata rest
    ) external view returns (bool);

    /// @notice `keccak256(abi.encode(VerificationKey))` of the verifier's key (it seeds the batch challenge).
    /// @return The hash.
    function verificationKeyHash() external view returns (bytes32);
}
