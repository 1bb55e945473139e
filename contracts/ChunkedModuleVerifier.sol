// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IChunkedModuleVerifier} from "./interfaces/IChunkedModuleVerifier.sol";
import {IGroth16Verifier4} from "./interfaces/IGroth16Verifier4.sol";
import {IGroth16Verifier5} from "./interfaces/IGroth16Verifier5.sol";
import {IGroth16Verifier6} from "./interfaces/IGroth16Verifier6.sol";

/// @title ChunkedModuleVerifier
/// @notice Verifies a module statement `[C_m, hX, rho, fY]` of the chunked variant: one module proven as KA
///         A-chunk proofs followed by KB B-chunk proofs, each small enough for a 2^16 ceremony, whose public
///         signals this contract combines (circuits/README.md, "Chunked modules"). Deployed once per
///         chunked shape with that shape's two generated chunk verifiers and registered in the
///         `VerifierRegistry` as the shape's verifier.
/// @dev What is checked. Chunk proofs carry these public signals (circuit declaration order):
///        A chunk c: `[hA_c, hX_c, rho, Lin_c, Lout_c]`
///        B chunk d: `[hB_d, rho, Lin_d, Lout_d, fIn_d, fOut_d]`
///      This contract builds them from the chain: `Lin` of the first A chunk is `linkStart`
///      (`Sponge_6(0,…,0 || 1 || 0)` for the shape's rank), every later `Lin` is the previous proof's `Lout`
///      (the last A chunk feeds the first B chunk), `fIn` of the first B chunk is 0 and every later one the
///      previous `fOut`, the last `fOut` is `fY`, and every `rho` is the statement's. It also requires
///      `C_m = keccak256(hA_0 … hA_{KA-1} ‖ hB_0 … hB_{KB-1}) mod p` and
///      `hX = keccak256(hX_0 … hX_{KA-1}) mod p` (32-byte words, in chunk order).
///
///      Soundness (the full argument is in circuits/README.md). Knowledge soundness of each chunk proof gives
///      a witness for each chunk; Poseidon's collision resistance makes each link value bind one state
///      `(u, pw)`, so by induction over the chain the state entering chunk i is the one chunk i-1 produced,
///      starting from `u = 0, pw = 1`. keccak and Poseidon binding fix the chunks' weights and activations to
///      the committed `C_m` and the registered `hX`, in order. Hence `fY` is exactly the monolithic
///      fingerprint `sum_{t,j} rho^(t·DOUT + j)·(X·A·B)[t][j]` of the committed weights on the registered
///      activations, and the escrow's Schwartz–Zippel argument for `rho` applies unchanged. Chunks cannot be
///      reordered, dropped, repeated or taken from another module: the keccak preimages and the links would
///      differ. Every proof is checked by its kind's generated snarkjs verifier (4 pairings each); batching
///      them (n + 3 pairings per kind) is the next gas lever.
contract ChunkedModuleVerifier is IChunkedModuleVerifier, IGroth16Verifier4 {
    /// @notice The BN254 scalar field modulus p.
    uint256 public constant FIELD_MODULUS =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;

    /// @notice The generated verifier of the shape's A chunks (five public signals).
    IGroth16Verifier5 public immutable chunkAVerifier;
    /// @notice The generated verifier of the shape's B chunks (six public signals).
    IGroth16Verifier6 public immutable chunkBVerifier;
    /// @notice The link value the first A chunk starts from, `Sponge_6(0,…,0 || 1 || 0)` (R zeros).
    uint256 public immutable linkStart;

    uint256 private immutable _aChunks;
    uint256 private immutable _bChunks;

    /// @notice A chunk verifier address holds no code.
    error ChunkVerifierHasNoCode(address verifier);
    /// @notice A shape needs at least one A chunk and one B chunk.
    error InvalidChunkCounts(uint256 aChunks, uint256 bChunks);
    /// @notice The link start is not a field element.
    error LinkStartNotInField(uint256 linkStart);

    /// @notice Creates the verifier of one chunked shape.
    /// @param chunkAVerifier_ The generated verifier of the shape's A chunk circuit.
    /// @param chunkBVerifier_ The generated verifier of the shape's B chunk circuit.
    /// @param aChunks_ KA = DIN / WA.
    /// @param bChunks_ KB = DOUT / WB.
    /// @param linkStart_ `Sponge_6(0,…,0 || 1 || 0)` for the shape's rank R (src/zk `linkStart(R)`).
    constructor(
        IGroth16Verifier5 chunkAVerifier_,
        IGroth16Verifier6 chunkBVerifier_,
        uint256 aChunks_,
        uint256 bChunks_,
        uint256 linkStart_
    ) {
        if (address(chunkAVerifier_).code.length == 0)
            revert ChunkVerifierHasNoCode(address(chunkAVerifier_));
        if (address(chunkBVerifier_).code.length == 0)
            revert ChunkVerifierHasNoCode(address(chunkBVerifier_));
        if (aChunks_ == 0 || bChunks_ == 0) revert InvalidChunkCounts(aChunks_, bChunks_);
        if (linkStart_ >= FIELD_MODULUS) revert LinkStartNotInField(linkStart_);
        chunkAVerifier = chunkAVerifier_;
        chunkBVerifier = chunkBVerifier_;
        _aChunks = aChunks_;
        _bChunks = bChunks_;
        linkStart = linkStart_;
    }

    /// @inheritdoc IChunkedModuleVerifier
    function chunkCounts() external view returns (uint256 aChunks, uint256 bChunks) {
        return (_aChunks, _bChunks);
    }

    /// @inheritdoc IChunkedModuleVerifier
    function verifyChunked(
        uint256[4] calldata signals,
        ChunkA[] calldata chunksA,
        ChunkB[] calldata chunksB
    ) external view returns (bool) {
        uint256 ka = _aChunks;
        uint256 kb = _bChunks;
        if (chunksA.length != ka || chunksB.length != kb) {
            revert WrongChunkCount(ka, chunksA.length, kb, chunksB.length);
        }

        _checkHashes(signals, chunksA, chunksB);
        uint256 rho = signals[2];
        uint256 link = _checkChunksA(rho, chunksA);
        _checkChunksB(rho, link, signals[3], chunksB);
        return true;
    }

    /// @dev Recomputes `C_m` and `hX` from the chunks' hashes and compares them with the statement's.
    function _checkHashes(
        uint256[4] calldata signals,
        ChunkA[] calldata chunksA,
        ChunkB[] calldata chunksB
    ) private pure {
        uint256 ka = chunksA.length;
        uint256 kb = chunksB.length;
        uint256[] memory weights = new uint256[](ka + kb);
        uint256[] memory activations = new uint256[](ka);
        for (uint256 i = 0; i < ka; ++i) {
            weights[i] = chunksA[i].hA;
            activations[i] = chunksA[i].hX;
        }
        for (uint256 d = 0; d < kb; ++d) weights[ka + d] = chunksB[d].hB;
        uint256 commitment = uint256(keccak256(abi.encodePacked(weights))) % FIELD_MODULUS;
        if (commitment != signals[0]) revert ChunkCommitmentMismatch(signals[0], commitment);
        uint256 activationHash = uint256(keccak256(abi.encodePacked(activations))) % FIELD_MODULUS;
        if (activationHash != signals[1]) revert ChunkActivationHashMismatch(signals[1], activationHash);
    }

    /// @dev Verifies the A chunks from `linkStart`; returns the last one's outgoing link.
    function _checkChunksA(uint256 rho, ChunkA[] calldata chunksA) private view returns (uint256 link) {
        link = linkStart;
        uint256 ka = chunksA.length;
        for (uint256 i = 0; i < ka; ++i) {
            ChunkA calldata chunk = chunksA[i];
            uint256[5] memory pub = [chunk.hA, chunk.hX, rho, link, chunk.lout];
            if (!chunkAVerifier.verifyProof(chunk.a, chunk.b, chunk.c, pub))
                revert InvalidChunkProof(false, i);
            link = chunk.lout;
        }
    }

    /// @dev Verifies the B chunks from `link` and `f = 0`; the last one must end at `fY`.
    function _checkChunksB(uint256 rho, uint256 link, uint256 fY, ChunkB[] calldata chunksB) private view {
        uint256 kb = chunksB.length;
        uint256 f = 0;
        for (uint256 d = 0; d < kb; ++d) {
            ChunkB calldata chunk = chunksB[d];
            uint256 fOut = d + 1 == kb ? fY : chunk.fOut;
            uint256[6] memory pub = [chunk.hB, rho, link, chunk.lout, f, fOut];
            if (!chunkBVerifier.verifyProof(chunk.a, chunk.b, chunk.c, pub))
                revert InvalidChunkProof(true, d);
            link = chunk.lout;
            f = fOut;
        }
    }

    /// @notice Always reverts: a chunked statement is a chain of proofs, never one Groth16 proof.
    /// @dev Lets `LoraEscrow.submit` on a chunked module fail with a reason (`ChunkedStatement`) instead of
    ///      an empty revert; use `LoraEscrow.submitChunked`.
    function verifyProof(
        uint256[2] calldata,
        uint256[2][2] calldata,
        uint256[2] calldata,
        uint256[4] calldata
    ) external pure returns (bool) {
        revert ChunkedStatement();
    }
}
