// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IChunkedModuleVerifier
/// @notice Checks one module statement `[C_m, hX, rho, fY]` of the chunked variant, proven as a chain of
///         small Groth16 proofs (circuits/README.md, "Chunked modules"); implemented by
///         `ChunkedModuleVerifier`, registered in the `VerifierRegistry` as a chunked shape's verifier and
///         called by `LoraEscrow.submitChunked`.
/// @dev The caller passes only what the chain cannot derive: per A chunk its weight-chunk hash `hA`, its
///      activation-chunk hash `hX` and its outgoing link `lout`; per B chunk `hB`, `lout` and the running
///      fingerprint `fOut`. Every incoming link, the incoming fingerprint and the last chunk's `fOut` (the
///      module's `fY`) are taken from the chain itself, so a proof can only verify as the link the
///      previous proof produced.
interface IChunkedModuleVerifier {
    /// @notice One proof of an A chunk (a block of WA columns of X and rows of A).
    /// @param a The A point (G1).
    /// @param b The B point (G2), each coordinate pair swapped (snarkjs call data order).
    /// @param c The C point (G1).
    /// @param hA `Sponge_4(A rows || salt)` of the chunk.
    /// @param hX `Sponge_5(X columns)` of the chunk.
    /// @param lout The outgoing link `Sponge_6(u || 1 || blind)`.
    struct ChunkA {
        uint256[2] a;
        uint256[2][2] b;
        uint256[2] c;
        uint256 hA;
        uint256 hX;
        uint256 lout;
    }

    /// @notice One proof of a B chunk (a block of WB columns of B).
    /// @param a The A point (G1).
    /// @param b The B point (G2), each coordinate pair swapped.
    /// @param c The C point (G1).
    /// @param hB `Sponge_4(B chunk || salt)`.
    /// @param lout The outgoing link `Sponge_6(u || rho^(WB·(d+1)) || blind)`.
    /// @param fOut The fingerprint after this chunk (ignored for the last chunk, whose `fOut` is `fY`).
    struct ChunkB {
        uint256[2] a;
        uint256[2][2] b;
        uint256[2] c;
        uint256 hB;
        uint256 lout;
        uint256 fOut;
    }

    /// @notice The chain has `gotA` A chunks and `gotB` B chunks; the shape needs `expectedA` and `expectedB`.
    error WrongChunkCount(uint256 expectedA, uint256 gotA, uint256 expectedB, uint256 gotB);
    /// @notice `keccak256(hA_0 … hA_{KA-1}, hB_0 … hB_{KB-1}) mod p` is not the module's `C_m`.
    error ChunkCommitmentMismatch(uint256 expected, uint256 computed);
    /// @notice `keccak256(hX_0 … hX_{KA-1}) mod p` is not the entry's `hX`.
    error ChunkActivationHashMismatch(uint256 expected, uint256 computed);
    /// @notice The proof of chunk `index` (of the A chunks when `isB` is false, else of the B chunks) does not
    ///         verify with the public signals the chain gives it.
    error InvalidChunkProof(bool isB, uint256 index);
    /// @notice A chunked shape's statement is never one Groth16 proof: submit it with `LoraEscrow.submitChunked`.
    error ChunkedStatement();

    /// @notice Checks the whole chain for the module statement `signals = [C_m, hX, rho, fY]`.
    /// @dev Reverts with `WrongChunkCount`, `ChunkCommitmentMismatch`, `ChunkActivationHashMismatch` or
    ///      `InvalidChunkProof` (the first failing chunk); returns true otherwise.
    /// @param signals The module statement's public signals `[C_m, hX, rho, fY]`.
    /// @param chunksA The A chunks, in column order.
    /// @param chunksB The B chunks, in column order.
    /// @return True when every chunk proof verifies and the chain matches `signals`.
    function verifyChunked(
        uint256[4] calldata signals,
        ChunkA[] calldata chunksA,
        ChunkB[] calldata chunksB
    ) external view returns (bool);

    /// @notice The number of A chunks (DIN / WA) and B chunks (DOUT / WB) of the shape.
    /// @return aChunks KA.
    /// @return bChunks KB.
    function chunkCounts() external view returns (uint256 aChunks, uint256 bChunks);
}
