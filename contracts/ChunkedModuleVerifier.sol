// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IChunkedModuleVerifier} from "./interfaces/IChunkedModuleVerifier.sol";
import {IGroth16BatchVerifierN} from "./interfaces/IGroth16BatchVerifierN.sol";
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
///      differ.
///
///      Batching. The chain's A proofs are checked in ONE call of `chunkABatchVerifier` (a
///      `Groth16BatchVerifierN` with the A chunk key: KA + 3 pairings, Fiat–Shamir random linear
///      combination, soundness error below 2^-253 per attempt) and its B proofs in one call of
///      `chunkBBatchVerifier` (the B chunk key), instead of 4 pairings per proof. When a batch call does not
///      return true (a proof does not verify, or malformed input made the batch verifier revert), this
///      contract re-checks that kind's chunks one by one with the generated snarkjs verifier and reverts
///      `InvalidChunkProof(isB, index)` for the first failing one, so the errors are exactly those of a
///      chunk-by-chunk check (if a batch verifier rejected a chain whose every proof the generated verifier
///      accepts, which a batch verifier with the same key never does, the call reverts `ChunkBatchRejected`).
///      Acceptance rests on the batch verifiers alone, so the deployer must give each exactly its generated
///      verifier's key (src/chain/deploy.ts checks the keys against the generated verifiers' bytecode; anyone
///      can compare `verificationKey()` of the batch verifiers with the generated verifiers' constants): a
///      batch verifier of another key would accept chunk proofs of another circuit.
///
///      Gas (`npm run bench:gas`, bench/results/gas-2026-11-27.json): a real chain of the tiny chunked shape
///      (2 A + 2 B chunk proofs) through `LoraEscrow.submitChunked` costs 659k (958k with one generated
///      verifier call per chunk); each further chunk proof adds about 59k (its pairing, two ecMul, its call
///      data) instead of 225k (A) / 232k (B). A distilgpt2 c_attn module (WA 64, WB 192: 12 + 12 chunks)
///      costs about 1.84M gas instead of 5.53M (a model, linear in the chunk count, from measured batch
///      calls of 2 and 4 real chunk proofs).
contract ChunkedModuleVerifier is IChunkedModuleVerifier, IGroth16Verifier4 {
    /// @notice The BN254 scalar field modulus p.
    uint256 public constant FIELD_MODULUS =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// @notice The number of public signals of an A chunk proof, `[hA, hX, rho, Lin, Lout]`.
    uint256 public constant CHUNK_A_SIGNALS = 5;
    /// @notice The number of public signals of a B chunk proof, `[hB, rho, Lin, Lout, fIn, fOut]`.
    uint256 public constant CHUNK_B_SIGNALS = 6;

    /// @notice The generated verifier of the shape's A chunks (five public signals).
    IGroth16Verifier5 public immutable chunkAVerifier;
    /// @notice The generated verifier of the shape's B chunks (six public signals).
    IGroth16Verifier6 public immutable chunkBVerifier;
    /// @notice The batch verifier with the A chunk key (`Groth16BatchVerifierN`, five public signals).
    IGroth16BatchVerifierN public immutable chunkABatchVerifier;
    /// @notice The batch verifier with the B chunk key (`Groth16BatchVerifierN`, six public signals).
    IGroth16BatchVerifierN public immutable chunkBBatchVerifier;
    /// @notice The link value the first A chunk starts from, `Sponge_6(0,…,0 || 1 || 0)` (R zeros).
    uint256 public immutable linkStart;

    uint256 private immutable _aChunks;
    uint256 private immutable _bChunks;

    /// @notice A chunk verifier or batch verifier address holds no code.
    error ChunkVerifierHasNoCode(address verifier);
    /// @notice A shape needs at least one A chunk and one B chunk.
    error InvalidChunkCounts(uint256 aChunks, uint256 bChunks);
    /// @notice The link start is not a field element.
    error LinkStartNotInField(uint256 linkStart);
    /// @notice `verifier` does not answer `publicSignalCount()` with `expected` (5 for the A chunk batch
    ///         verifier, 6 for the B one): it is not a batch verifier of that chunk kind's key.
    error WrongBatchVerifier(address verifier, uint256 expected);
    /// @notice The batch verifier of the A (`isB == false`) or B chunks rejected the chain although the
    ///         generated verifier accepts each of its proofs: the batch verifier does not hold the generated
    ///         verifier's key (a deployment error) or the call ran out of gas.
    error ChunkBatchRejected(bool isB);

    /// @notice Creates the verifier of one chunked shape.
    /// @param chunkAVerifier_ The generated verifier of the shape's A chunk circuit.
    /// @param chunkBVerifier_ The generated verifier of the shape's B chunk circuit.
    /// @param chunkABatchVerifier_ A `Groth16BatchVerifierN` with exactly `chunkAVerifier_`'s key.
    /// @param chunkBBatchVerifier_ A `Groth16BatchVerifierN` with exactly `chunkBVerifier_`'s key.
    /// @param aChunks_ KA = DIN / WA.
    /// @param bChunks_ KB = DOUT / WB.
    /// @param linkStart_ `Sponge_6(0,…,0 || 1 || 0)` for the shape's rank R (src/zk `linkStart(R)`).
    constructor(
        IGroth16Verifier5 chunkAVerifier_,
        IGroth16Verifier6 chunkBVerifier_,
        IGroth16BatchVerifierN chunkABatchVerifier_,
        IGroth16BatchVerifierN chunkBBatchVerifier_,
        uint256 aChunks_,
        uint256 bChunks_,
        uint256 linkStart_
    ) {
        _requireCode(address(chunkAVerifier_));
        _requireCode(address(chunkBVerifier_));
        _requireCode(address(chunkABatchVerifier_));
        _requireCode(address(chunkBBatchVerifier_));
        _requireSignalCount(chunkABatchVerifier_, CHUNK_A_SIGNALS);
        _requireSignalCount(chunkBBatchVerifier_, CHUNK_B_SIGNALS);
        if (aChunks_ == 0 || bChunks_ == 0) revert InvalidChunkCounts(aChunks_, bChunks_);
        if (linkStart_ >= FIELD_MODULUS) revert LinkStartNotInField(linkStart_);
        chunkAVerifier = chunkAVerifier_;
        chunkBVerifier = chunkBVerifier_;
        chunkABatchVerifier = chunkABatchVerifier_;
        chunkBBatchVerifier = chunkBBatchVerifier_;
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

    /// @dev Verifies the A chunks from `linkStart` in one batch call; returns the last one's outgoing link.
    function _checkChunksA(uint256 rho, ChunkA[] calldata chunksA) private view returns (uint256 link) {
        uint256 ka = chunksA.length;
        (uint256 ptr, uint256 size, uint256 elems) = _batchCall(ka, CHUNK_A_SIGNALS);
        link = linkStart;
        for (uint256 i = 0; i < ka; ++i) {
            ChunkA calldata chunk = chunksA[i];
            // Element i of the call's BatchProof[]: a, b, c, the signals' offset (9 words), 5, the signals.
            assembly ("memory-safe") {
                let e := add(elems, mul(i, 480))
                calldatacopy(e, chunk, 256)
                mstore(add(e, 256), 288)
                mstore(add(e, 288), 5)
                mstore(add(e, 320), calldataload(add(chunk, 256)))
                mstore(add(e, 352), calldataload(add(chunk, 288)))
                mstore(add(e, 384), rho)
                mstore(add(e, 416), link)
                link := calldataload(add(chunk, 320))
                mstore(add(e, 448), link)
            }
        }
        if (!_batchAccepts(address(chunkABatchVerifier), ptr, size)) _revertFirstFailingA(rho, chunksA);
    }

    /// @dev Verifies the B chunks from `link` and `f = 0` in one batch call; the last one must end at `fY`.
    function _checkChunksB(uint256 rho, uint256 link, uint256 fY, ChunkB[] calldata chunksB) private view {
        uint256 kb = chunksB.length;
        (uint256 ptr, uint256 size, uint256 elems) = _batchCall(kb, CHUNK_B_SIGNALS);
        uint256 linkIn = link;
        uint256 f = 0;
        for (uint256 d = 0; d < kb; ++d) {
            ChunkB calldata chunk = chunksB[d];
            uint256 fOut = d + 1 == kb ? fY : chunk.fOut;
            assembly ("memory-safe") {
                let e := add(elems, mul(d, 512))
                calldatacopy(e, chunk, 256)
                mstore(add(e, 256), 288)
                mstore(add(e, 288), 6)
                mstore(add(e, 320), calldataload(add(chunk, 256)))
                mstore(add(e, 352), rho)
                mstore(add(e, 384), link)
                link := calldataload(add(chunk, 288))
                mstore(add(e, 416), link)
                mstore(add(e, 448), f)
                mstore(add(e, 480), fOut)
            }
            f = fOut;
        }
        if (!_batchAccepts(address(chunkBBatchVerifier), ptr, size)) {
            _revertFirstFailingB(rho, linkIn, fY, chunksB);
        }
    }

    /// @dev Allocates the call data of `verifyBatch(BatchProof[])` for `k` proofs of `ns` signals and writes
    ///      its head: the selector in the last 4 bytes of the word at `ptr` (the call data starts at
    ///      `ptr + 28`, `size` bytes), the array's offset and length, and the k element offsets. Element i
    ///      (`(10 + ns)` words) starts at `elems + i·(10 + ns)·32`; the caller fills it.
    function _batchCall(
        uint256 k,
        uint256 ns
    ) private pure returns (uint256 ptr, uint256 size, uint256 elems) {
        bytes4 selector = IGroth16BatchVerifierN.verifyBatch.selector;
        uint256 elemSize = (10 + ns) << 5;
        size = 68 + k * (32 + elemSize);
        assembly ("memory-safe") {
            ptr := mload(0x40)
            mstore(0x40, add(ptr, add(28, size)))
            mstore(ptr, shr(224, selector))
            mstore(add(ptr, 32), 32)
            mstore(add(ptr, 64), k)
            for {
                let i := 0
            } lt(i, k) {
                i := add(i, 1)
            } {
                mstore(add(ptr, add(96, shl(5, i))), add(shl(5, k), mul(i, elemSize)))
            }
            elems := add(ptr, add(96, shl(5, k)))
        }
    }

    /// @dev Whether `verifier.verifyBatch` with the prepared call data returns exactly true (a revert, e.g.
    ///      for malformed input, counts as not accepted).
    function _batchAccepts(address verifier, uint256 ptr, uint256 size) private view returns (bool ok) {
        assembly ("memory-safe") {
            let success := staticcall(gas(), verifier, add(ptr, 28), size, 0, 32)
            ok := and(and(success, eq(returndatasize(), 32)), eq(mload(0), 1))
        }
    }

    /// @dev After a rejected A batch: reverts `InvalidChunkProof(false, i)` for the first A chunk the
    ///      generated verifier rejects with the signals the chain gives it, else `ChunkBatchRejected(false)`.
    function _revertFirstFailingA(uint256 rho, ChunkA[] calldata chunksA) private view {
        uint256 link = linkStart;
        uint256 ka = chunksA.length;
        for (uint256 i = 0; i < ka; ++i) {
            ChunkA calldata chunk = chunksA[i];
            uint256[5] memory pub = [chunk.hA, chunk.hX, rho, link, chunk.lout];
            if (!chunkAVerifier.verifyProof(chunk.a, chunk.b, chunk.c, pub))
                revert InvalidChunkProof(false, i);
            link = chunk.lout;
        }
        revert ChunkBatchRejected(false);
    }

    /// @dev After a rejected B batch (the A chunks verified), from the link `link` the last A chunk produced:
    ///      the first failing B chunk, as for A.
    function _revertFirstFailingB(
        uint256 rho,
        uint256 link,
        uint256 fY,
        ChunkB[] calldata chunksB
    ) private view {
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
        revert ChunkBatchRejected(true);
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

    function _requireCode(address verifier) private view {
        if (verifier.code.length == 0) revert ChunkVerifierHasNoCode(verifier);
    }

    function _requireSignalCount(IGroth16BatchVerifierN verifier, uint256 expected) private view {
        (bool ok, bytes memory data) = address(verifier).staticcall(
            abi.encodeCall(IGroth16BatchVerifierN.publicSignalCount, ())
        );
        if (!ok || data.length != 32 || abi.decode(data, (uint256)) != expected) {
            revert WrongBatchVerifier(address(verifier), expected);
        }
    }
}
