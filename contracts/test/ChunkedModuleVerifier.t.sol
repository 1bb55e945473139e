// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TestBase} from "./lib/TestBase.sol";
import {ChunkedModuleVerifier} from "../ChunkedModuleVerifier.sol";
import {IChunkedModuleVerifier} from "../interfaces/IChunkedModuleVerifier.sol";
import {IGroth16Verifier5} from "../interfaces/IGroth16Verifier5.sol";
import {IGroth16Verifier6} from "../interfaces/IGroth16Verifier6.sol";
import {IGroth16BatchVerifierN} from "../interfaces/IGroth16BatchVerifierN.sol";
import {SignalBookBatchVerifier, SignalBookVerifier5, SignalBookVerifier6} from "./SignalBookVerifier.sol";

/// @notice Fuzz tests of how `ChunkedModuleVerifier` chains the public signals of a module's chunk proofs:
///         with chunk verifiers that accept exactly the recorded (proof, signals) pairs, an honest chain
///         verifies and changing any one value of it (a chunk hash, a link, a partial fingerprint, rho, fY,
///         the order of chunks, their number) is rejected with the matching error. Real proofs:
///         test/contracts/chunked.test.ts.
contract ChunkedModuleVerifierTest is TestBase {
    uint256 internal constant P =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    uint256 internal constant KA = 3;
    uint256 internal constant KB = 2;
    uint256 internal constant LINK_START = 123456789;

    SignalBookVerifier5 internal bookA;
    SignalBookVerifier6 internal bookB;
    SignalBookBatchVerifier internal batchA;
    SignalBookBatchVerifier internal batchB;
    ChunkedModuleVerifier internal verifier;

    function setUp() public {
        bookA = new SignalBookVerifier5();
        bookB = new SignalBookVerifier6();
        batchA = new SignalBookBatchVerifier(address(bookA), 5);
        batchB = new SignalBookBatchVerifier(address(bookB), 6);
        verifier = _verifier(
            address(bookA),
            address(bookB),
            address(batchA),
            address(batchB),
            KA,
            KB,
            LINK_START
        );
    }

    function _verifier(
        address a,
        address b,
        address ba,
        address bb,
        uint256 ka,
        uint256 kb,
        uint256 linkStart
    ) internal returns (ChunkedModuleVerifier) {
        return
            new ChunkedModuleVerifier(
                IGroth16Verifier5(a),
                IGroth16Verifier6(b),
                IGroth16BatchVerifierN(ba),
                IGroth16BatchVerifierN(bb),
                ka,
                kb,
                linkStart
            );
    }

    function _rand(uint256 seed, string memory what, uint256 i) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(seed, what, i))) % P;
    }

    /// @dev An honest chain from `seed`, every chunk recorded as valid with the signals the chain defines.
    function _chain(
        uint256 seed
    )
        internal
        returns (
            uint256[4] memory signals,
            IChunkedModuleVerifier.ChunkA[] memory chunksA,
            IChunkedModuleVerifier.ChunkB[] memory chunksB
        )
    {
        chunksA = new IChunkedModuleVerifier.ChunkA[](KA);
        chunksB = new IChunkedModuleVerifier.ChunkB[](KB);
        uint256 rho = _rand(seed, "rho", 0);
        uint256 link = LINK_START;
        uint256[] memory weights = new uint256[](KA + KB);
        uint256[] memory activations = new uint256[](KA);
        for (uint256 i = 0; i < KA; ++i) {
            IChunkedModuleVerifier.ChunkA memory chunk = chunksA[i];
            chunk.a = [i + 1, 1];
            chunk.hA = _rand(seed, "hA", i);
            chunk.hX = _rand(seed, "hX", i);
            chunk.lout = _rand(seed, "linkA", i);
            bookA.allow(chunk.a, [chunk.hA, chunk.hX, rho, link, chunk.lout]);
            weights[i] = chunk.hA;
            activations[i] = chunk.hX;
            link = chunk.lout;
        }
        uint256 f = 0;
        for (uint256 d = 0; d < KB; ++d) {
            IChunkedModuleVerifier.ChunkB memory chunk = chunksB[d];
            chunk.a = [d + 1, 2];
            chunk.hB = _rand(seed, "hB", d);
            chunk.lout = _rand(seed, "linkB", d);
            chunk.fOut = _rand(seed, "f", d);
            bookB.allow(chunk.a, [chunk.hB, rho, link, chunk.lout, f, chunk.fOut]);
            weights[KA + d] = chunk.hB;
            link = chunk.lout;
            f = chunk.fOut;
        }
        signals = [
            uint256(keccak256(abi.encodePacked(weights))) % P,
            uint256(keccak256(abi.encodePacked(activations))) % P,
            rho,
            f
        ];
    }

    function _reverts(
        uint256[4] memory signals,
        IChunkedModuleVerifier.ChunkA[] memory chunksA,
        IChunkedModuleVerifier.ChunkB[] memory chunksB
    ) internal view returns (bytes memory data) {
        try verifier.verifyChunked(signals, chunksA, chunksB) returns (bool) {
            revert AssertionFailed("a changed chain verified", 0, 0);
        } catch (bytes memory reason) {
            data = reason;
        }
    }

    function testFuzz_HonestChainVerifies(uint256 seed) public {
        (
            uint256[4] memory signals,
            IChunkedModuleVerifier.ChunkA[] memory chunksA,
            IChunkedModuleVerifier.ChunkB[] memory chunksB
        ) = _chain(seed);
        assertTrue(verifier.verifyChunked(signals, chunksA, chunksB), "honest chain");
        // The last B chunk's own fOut field is ignored: fY comes from the statement.
        chunksB[KB - 1].fOut = 0;
        assertTrue(verifier.verifyChunked(signals, chunksA, chunksB), "last fOut ignored");
    }

    function testFuzz_ChangedChunkHashIsRejected(uint256 seed, uint256 which, bool activation) public {
        (
            uint256[4] memory signals,
            IChunkedModuleVerifier.ChunkA[] memory chunksA,
            IChunkedModuleVerifier.ChunkB[] memory chunksB
        ) = _chain(seed);
        which = bound(which, 0, KA + KB - 1);
        bytes4 expected = IChunkedModuleVerifier.ChunkCommitmentMismatch.selector;
        if (activation) {
            which = which % KA;
            chunksA[which].hX = (chunksA[which].hX + 1) % P;
            expected = IChunkedModuleVerifier.ChunkActivationHashMismatch.selector;
        } else if (which < KA) {
            chunksA[which].hA = (chunksA[which].hA + 1) % P;
        } else {
            chunksB[which - KA].hB = (chunksB[which - KA].hB + 1) % P;
        }
        assertEq(bytes32(bytes4(_reverts(signals, chunksA, chunksB))), bytes32(expected), "hash error");
    }

    function testFuzz_ChangedLinkOrFingerprintIsRejected(uint256 seed, uint256 which) public {
        (
            uint256[4] memory signals,
            IChunkedModuleVerifier.ChunkA[] memory chunksA,
            IChunkedModuleVerifier.ChunkB[] memory chunksB
        ) = _chain(seed);
        which = bound(which, 0, KA + 2 * KB - 2);
        bool isB = which >= KA;
        uint256 index = which;
        if (which < KA) {
            chunksA[which].lout = (chunksA[which].lout + 1) % P;
        } else if (which < KA + KB) {
            index = which - KA;
            chunksB[index].lout = (chunksB[index].lout + 1) % P;
        } else {
            index = which - KA - KB;
            chunksB[index].fOut = (chunksB[index].fOut + 1) % P;
        }
        // The changed chunk's own proof no longer matches its signals: it fails first.
        assertEq(
            keccak256(_reverts(signals, chunksA, chunksB)),
            keccak256(abi.encodeWithSelector(IChunkedModuleVerifier.InvalidChunkProof.selector, isB, index)),
            "chain error"
        );
    }

    function testFuzz_OtherRhoOrFingerprintIsRejected(uint256 seed, bool changeRho) public {
        (
            uint256[4] memory signals,
            IChunkedModuleVerifier.ChunkA[] memory chunksA,
            IChunkedModuleVerifier.ChunkB[] memory chunksB
        ) = _chain(seed);
        bytes memory expected;
        if (changeRho) {
            signals[2] = (signals[2] + 1) % P;
            expected = abi.encodeWithSelector(IChunkedModuleVerifier.InvalidChunkProof.selector, false, 0);
        } else {
            signals[3] = (signals[3] + 1) % P;
            expected = abi.encodeWithSelector(
                IChunkedModuleVerifier.InvalidChunkProof.selector,
                true,
                KB - 1
            );
        }
        assertEq(keccak256(_reverts(signals, chunksA, chunksB)), keccak256(expected), "statement error");
    }

    function testFuzz_ReorderedChunksAreRejected(uint256 seed, uint256 i, uint256 j) public {
        (
            uint256[4] memory signals,
            IChunkedModuleVerifier.ChunkA[] memory chunksA,
            IChunkedModuleVerifier.ChunkB[] memory chunksB
        ) = _chain(seed);
        i = bound(i, 0, KA - 1);
        j = bound(j, 0, KA - 1);
        vm.assume(i != j);
        (chunksA[i], chunksA[j]) = (chunksA[j], chunksA[i]);
        // Swapping whole chunks changes the committed order of the hashes.
        assertEq(
            bytes32(bytes4(_reverts(signals, chunksA, chunksB))),
            bytes32(IChunkedModuleVerifier.ChunkCommitmentMismatch.selector),
            "reorder error"
        );
        // Swapping back the hashes only (keeping the swapped proofs) breaks the proofs' signals instead.
        (chunksA[i].hA, chunksA[j].hA) = (chunksA[j].hA, chunksA[i].hA);
        (chunksA[i].hX, chunksA[j].hX) = (chunksA[j].hX, chunksA[i].hX);
        (chunksA[i].lout, chunksA[j].lout) = (chunksA[j].lout, chunksA[i].lout);
        assertEq(
            bytes32(bytes4(_reverts(signals, chunksA, chunksB))),
            bytes32(IChunkedModuleVerifier.InvalidChunkProof.selector),
            "swapped proofs error"
        );
    }

    function test_WrongChunkCountIsRejected() public {
        (
            uint256[4] memory signals,
            IChunkedModuleVerifier.ChunkA[] memory chunksA,
            IChunkedModuleVerifier.ChunkB[] memory chunksB
        ) = _chain(7);
        IChunkedModuleVerifier.ChunkB[] memory fewer = new IChunkedModuleVerifier.ChunkB[](KB - 1);
        for (uint256 d = 0; d + 1 < KB; ++d) fewer[d] = chunksB[d];
        assertEq(
            keccak256(_reverts(signals, chunksA, fewer)),
            keccak256(
                abi.encodeWithSelector(IChunkedModuleVerifier.WrongChunkCount.selector, KA, KA, KB, KB - 1)
            ),
            "count error"
        );
    }

    function test_SingleProofPathRevertsWithAReason() public {
        uint256[2] memory a;
        uint256[2][2] memory b;
        vm.expectRevert(IChunkedModuleVerifier.ChunkedStatement.selector);
        verifier.verifyProof(a, b, a, [uint256(0), 0, 0, 0]);
    }

    function test_ConstructorChecksItsInputs() public {
        address a = address(bookA);
        address b = address(bookB);
        address ba = address(batchA);
        address bb = address(batchB);
        vm.expectRevert(
            abi.encodeWithSelector(ChunkedModuleVerifier.ChunkVerifierHasNoCode.selector, address(0))
        );
        _verifier(address(0), b, ba, bb, 1, 1, 0);
        vm.expectRevert(
            abi.encodeWithSelector(ChunkedModuleVerifier.ChunkVerifierHasNoCode.selector, address(0))
        );
        _verifier(a, b, ba, address(0), 1, 1, 0);
        // Batch verifiers of the wrong kind (signal count) or contracts that are not batch verifiers.
        vm.expectRevert(abi.encodeWithSelector(ChunkedModuleVerifier.WrongBatchVerifier.selector, bb, 5));
        _verifier(a, b, bb, bb, 1, 1, 0);
        vm.expectRevert(abi.encodeWithSelector(ChunkedModuleVerifier.WrongBatchVerifier.selector, ba, 6));
        _verifier(a, b, ba, ba, 1, 1, 0);
        vm.expectRevert(abi.encodeWithSelector(ChunkedModuleVerifier.WrongBatchVerifier.selector, a, 5));
        _verifier(a, b, a, bb, 1, 1, 0);
        vm.expectRevert(abi.encodeWithSelector(ChunkedModuleVerifier.InvalidChunkCounts.selector, 0, 1));
        _verifier(a, b, ba, bb, 0, 1, 0);
        vm.expectRevert(abi.encodeWithSelector(ChunkedModuleVerifier.LinkStartNotInField.selector, P));
        _verifier(a, b, ba, bb, 1, 1, P);
        (uint256 ka, uint256 kb) = verifier.chunkCounts();
        assertEq(ka, KA, "KA");
        assertEq(kb, KB, "KB");
        assertEq(address(verifier.chunkABatchVerifier()), ba, "A batch verifier");
        assertEq(address(verifier.chunkBBatchVerifier()), bb, "B batch verifier");
    }

    function testFuzz_BatchVerifierThatRejectsAValidChainIsReported(uint256 seed, bool isB) public {
        (
            uint256[4] memory signals,
            IChunkedModuleVerifier.ChunkA[] memory chunksA,
            IChunkedModuleVerifier.ChunkB[] memory chunksB
        ) = _chain(seed);
        // Every chunk verifies with the generated (book) verifier but the batch verifier says no: the
        // contract neither accepts nor blames a chunk.
        (isB ? batchB : batchA).setRejectAll(true);
        assertEq(
            keccak256(_reverts(signals, chunksA, chunksB)),
            keccak256(abi.encodeWithSelector(ChunkedModuleVerifier.ChunkBatchRejected.selector, isB)),
            "batch disagreement"
        );
    }

    function testFuzz_InvalidChunkFailsItsBatchAndIsNamed(uint256 seed, uint256 which) public {
        (
            uint256[4] memory signals,
            IChunkedModuleVerifier.ChunkA[] memory chunksA,
            IChunkedModuleVerifier.ChunkB[] memory chunksB
        ) = _chain(seed);
        // A proof point the book never recorded (another A point): its batch fails and the scan names it.
        which = bound(which, 0, KA + KB - 1);
        bool isB = which >= KA;
        uint256 index = isB ? which - KA : which;
        if (isB) chunksB[index].a[1] = 99;
        else chunksA[index].a[1] = 99;
        assertEq(
            keccak256(_reverts(signals, chunksA, chunksB)),
            keccak256(abi.encodeWithSelector(IChunkedModuleVerifier.InvalidChunkProof.selector, isB, index)),
            "named chunk"
        );
    }
}
