// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TestBase} from "./lib/TestBase.sol";
import {Groth16BatchVerifier} from "../Groth16BatchVerifier.sol";
import {Groth16BatchVerifierN} from "../Groth16BatchVerifierN.sol";
import {IGroth16BatchVerifier4} from "../interfaces/IGroth16BatchVerifier4.sol";
import {IGroth16BatchVerifierN} from "../interfaces/IGroth16BatchVerifierN.sol";

/// @notice Unit and fuzz tests of Groth16BatchVerifierN's algebra and input checks for every signal count
///         N = 1..8, with keys made of the group generators (alpha = IC_j = G1, beta = gamma = delta = G2),
///         for which a proof with public signals x and C = c·G1 is valid exactly when
///         A = (2 + sum x_j + c)·G1; and parity with the four-signal Groth16BatchVerifier. Real snarkjs chunk
///         proofs: test/contracts/batch-verifier-n.test.ts.
contract Groth16BatchVerifierNTest is TestBase {
    uint256 internal constant P =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    uint256 internal constant Q =
        21888242871839275222246405745257275088696311157297823662689037894645226208583;
    // The BN254 G2 generator, EIP-197 order (x_im, x_re, y_im, y_re).
    uint256 internal constant G2X1 =
        11559732032986387107991004021392285783925812861821192530917403151452391805634;
    uint256 internal constant G2X2 =
        10857046999023057135944570762232829481370756359578518086990519993285655852781;
    uint256 internal constant G2Y1 =
        4082367875863433681332203403145435568316851327593401208105741076214120093531;
    uint256 internal constant G2Y2 =
        8495653923123431417604973247489272438418190587263600148770280649306958101930;

    /// @dev Verifiers of the generator key for N = 1..8 (index N - 1).
    Groth16BatchVerifierN[8] internal verifiers;

    function setUp() public {
        for (uint256 ns = 1; ns <= 8; ++ns) verifiers[ns - 1] = new Groth16BatchVerifierN(_generatorKey(ns));
    }

    function _generatorKey(
        uint256 ns
    ) internal pure returns (Groth16BatchVerifierN.VerificationKey memory vk) {
        vk.alpha = [uint256(1), 2];
        vk.beta = [G2X1, G2X2, G2Y1, G2Y2];
        vk.gamma = vk.beta;
        vk.delta = vk.beta;
        vk.ic = new uint256[](2 * (ns + 1));
        for (uint256 j = 0; j <= ns; ++j) {
            vk.ic[2 * j] = 1;
            vk.ic[2 * j + 1] = 2;
        }
    }

    function _mulG(uint256 s) internal view returns (uint256[2] memory out) {
        uint256[3] memory input = [uint256(1), 2, s];
        bool ok;
        assembly {
            ok := staticcall(gas(), 7, input, 96, out, 64)
        }
        assertTrue(ok, "ecMul");
    }

    /// @dev A valid proof for the generator key with signals `x` and C = c·G1.
    function _proof(
        uint256[] memory x,
        uint256 c
    ) internal view returns (IGroth16BatchVerifierN.BatchProof memory p) {
        uint256 a = addmod(2, c, P);
        for (uint256 j = 0; j < x.length; ++j) a = addmod(a, x[j], P);
        p.a = _mulG(a);
        p.b = [[G2X1, G2X2], [G2Y1, G2Y2]];
        p.c = _mulG(c);
        p.signals = x;
    }

    function _batch(
        uint256 seed,
        uint256 n,
        uint256 ns
    ) internal view returns (IGroth16BatchVerifierN.BatchProof[] memory list) {
        list = new IGroth16BatchVerifierN.BatchProof[](n);
        for (uint256 i = 0; i < n; ++i) {
            uint256[] memory x = new uint256[](ns);
            for (uint256 j = 0; j < ns; ++j) x[j] = uint256(keccak256(abi.encode(seed, i, j))) % P;
            list[i] = _proof(x, uint256(keccak256(abi.encode(seed, i))) % P);
        }
    }

    function testFuzz_AcceptsValidBatchesRejectsOneWrongSignal(
        uint256 seed,
        uint8 signals,
        uint8 size,
        uint8 at,
        uint8 which
    ) public view {
        uint256 ns = bound(signals, 1, 8);
        uint256 n = bound(size, 1, 6);
        Groth16BatchVerifierN verifier = verifiers[ns - 1];
        IGroth16BatchVerifierN.BatchProof[] memory list = _batch(seed, n, ns);
        assertTrue(verifier.verifyBatch(list), "valid batch accepted");
        uint256 i = bound(at, 0, n - 1);
        uint256 j = bound(which, 0, ns - 1);
        list[i].signals[j] = addmod(list[i].signals[j], 1, P);
        assertTrue(!verifier.verifyBatch(list), "batch with a wrong signal rejected");
    }

    function testFuzz_RejectsATamperedProofAnywhere(
        uint256 seed,
        uint8 signals,
        uint8 at,
        uint8 what
    ) public view {
        uint256 ns = bound(signals, 1, 8);
        Groth16BatchVerifierN verifier = verifiers[ns - 1];
        IGroth16BatchVerifierN.BatchProof[] memory list = _batch(seed, 4, ns);
        uint256 i = bound(at, 0, 3);
        uint256 k = bound(what, 0, 2);
        // Another valid curve point as A or C, or another valid G2 point (2·G2 is not given: swap A and C).
        if (k == 0) list[i].a = _mulG(uint256(keccak256(abi.encode(seed, "a"))) % P);
        else if (k == 1) list[i].c = _mulG(uint256(keccak256(abi.encode(seed, "c"))) % P);
        else (list[i].a, list[i].c) = (list[i].c, list[i].a);
        // (A and C of a proof are equal only when 2 + sum x_j = 0, which the random signals never give.)
        assertTrue(!verifier.verifyBatch(list), "tampered proof rejected");
    }

    function testFuzz_RejectsErrorsThatCancelInAPlainSum(uint256 seed, uint256 d, uint8 signals) public view {
        // Proof 0 claims signal 0 + d, proof 1 signal 0 - d: sum_i vk_x_i is unchanged.
        uint256 ns = bound(signals, 1, 8);
        d = bound(d, 1, P - 1);
        IGroth16BatchVerifierN.BatchProof[] memory list = _batch(seed, 3, ns);
        list[0].signals[0] = addmod(list[0].signals[0], d, P);
        list[1].signals[0] = addmod(list[1].signals[0], P - d, P);
        assertTrue(!verifiers[ns - 1].verifyBatch(list), "cancelling errors rejected");
    }

    function testFuzz_AgreesWithTheFourSignalVerifier(
        uint256 seed,
        uint8 size,
        uint8 at,
        bool tamper
    ) public {
        Groth16BatchVerifier.VerificationKey memory vk4;
        Groth16BatchVerifierN.VerificationKey memory vkN = _generatorKey(4);
        (vk4.alpha, vk4.beta, vk4.gamma, vk4.delta) = (vkN.alpha, vkN.beta, vkN.gamma, vkN.delta);
        for (uint256 k = 0; k < 10; ++k) vk4.ic[k] = vkN.ic[k];
        Groth16BatchVerifier four = new Groth16BatchVerifier(vk4);
        uint256 n = bound(size, 1, 5);
        IGroth16BatchVerifierN.BatchProof[] memory list = _batch(seed, n, 4);
        if (tamper) {
            uint256 i = bound(at, 0, n - 1);
            list[i].signals[3] = addmod(list[i].signals[3], 1, P);
        }
        IGroth16BatchVerifier4.BatchProof[] memory list4 = new IGroth16BatchVerifier4.BatchProof[](n);
        for (uint256 i = 0; i < n; ++i) {
            list4[i].a = list[i].a;
            list4[i].b = list[i].b;
            list4[i].c = list[i].c;
            for (uint256 j = 0; j < 4; ++j) list4[i].signals[j] = list[i].signals[j];
        }
        bool answer = verifiers[3].verifyBatch(list);
        assertTrue(answer == four.verifyBatch(list4), "same answer as Groth16BatchVerifier");
        assertTrue(answer == !tamper, "the right answer");
    }

    function test_RejectsEmptyBatch() public {
        IGroth16BatchVerifierN.BatchProof[] memory list = new IGroth16BatchVerifierN.BatchProof[](0);
        vm.expectRevert(IGroth16BatchVerifierN.EmptyBatch.selector);
        verifiers[4].verifyBatch(list);
    }

    function testFuzz_RejectsWrongSignalCounts(uint8 signals, uint8 got, uint8 at) public {
        uint256 ns = bound(signals, 1, 8);
        uint256 count = bound(got, 0, 9);
        vm.assume(count != ns);
        IGroth16BatchVerifierN.BatchProof[] memory list = _batch(9, 3, ns);
        uint256 i = bound(at, 0, 2);
        list[i].signals = new uint256[](count);
        vm.expectRevert(
            abi.encodeWithSelector(IGroth16BatchVerifierN.WrongSignalCount.selector, i, ns, count)
        );
        verifiers[ns - 1].verifyBatch(list);
    }

    function testFuzz_RejectsSignalsNotInField(uint256 value, uint8 signals, uint8 at, uint8 which) public {
        uint256 ns = bound(signals, 1, 8);
        value = bound(value, P, type(uint256).max);
        IGroth16BatchVerifierN.BatchProof[] memory list = _batch(1, 3, ns);
        uint256 i = bound(at, 0, 2);
        uint256 j = bound(which, 0, ns - 1);
        list[i].signals[j] = value;
        vm.expectRevert(
            abi.encodeWithSelector(IGroth16BatchVerifierN.SignalNotInField.selector, i, j, value)
        );
        verifiers[ns - 1].verifyBatch(list);
    }

    function testFuzz_RejectsCoordinatesNotInField(uint256 value, uint8 which) public {
        value = bound(value, Q, type(uint256).max);
        IGroth16BatchVerifierN.BatchProof[] memory list = _batch(2, 2, 6);
        uint256 k = bound(which, 0, 7);
        if (k < 2) list[1].a[k] = value;
        else if (k < 6) list[1].b[(k - 2) / 2][k % 2] = value;
        else list[1].c[k - 6] = value;
        vm.expectRevert(
            abi.encodeWithSelector(IGroth16BatchVerifierN.CoordinateNotInField.selector, 1, value)
        );
        verifiers[5].verifyBatch(list);
    }

    function testFuzz_RejectsPointsOffTheCurve(uint256 x, uint256 y, bool isC) public {
        x = bound(x, 0, Q - 1);
        y = bound(y, 0, Q - 1);
        vm.assume(!(x == 0 && y == 0) && mulmod(y, y, Q) != addmod(mulmod(mulmod(x, x, Q), x, Q), 3, Q));
        IGroth16BatchVerifierN.BatchProof[] memory list = _batch(3, 2, 5);
        if (isC) list[0].c = [x, y];
        else list[0].a = [x, y];
        vm.expectRevert(abi.encodeWithSelector(IGroth16BatchVerifierN.PointNotOnCurve.selector, 0, isC));
        verifiers[4].verifyBatch(list);
    }

    function test_ReturnsFalseForBOutsideTheSubgroupOrTwist() public view {
        IGroth16BatchVerifierN.BatchProof[] memory list = _batch(4, 2, 6);
        list[1].b[1][1] = addmod(list[1].b[1][1], 1, Q);
        assertTrue(!verifiers[5].verifyBatch(list), "B off the twist rejected (ecPairing fails)");
    }

    function test_ConstructorRejectsInvalidKeys() public {
        Groth16BatchVerifierN.VerificationKey memory vk = _generatorKey(5);
        vk.ic = new uint256[](2);
        vm.expectRevert(abi.encodeWithSelector(Groth16BatchVerifierN.UnsupportedKeySize.selector, 2));
        new Groth16BatchVerifierN(vk);
        vk.ic = new uint256[](7);
        vm.expectRevert(abi.encodeWithSelector(Groth16BatchVerifierN.UnsupportedKeySize.selector, 7));
        new Groth16BatchVerifierN(vk);
        vk = _generatorKey(9);
        vm.expectRevert(abi.encodeWithSelector(Groth16BatchVerifierN.UnsupportedKeySize.selector, 20));
        new Groth16BatchVerifierN(vk);
        vk = _generatorKey(5);
        vk.alpha[1] = 3;
        vm.expectRevert(abi.encodeWithSelector(Groth16BatchVerifierN.InvalidVerificationKey.selector, 0));
        new Groth16BatchVerifierN(vk);
        vk = _generatorKey(5);
        vk.ic[11] = Q;
        vm.expectRevert(abi.encodeWithSelector(Groth16BatchVerifierN.InvalidVerificationKey.selector, 25));
        new Groth16BatchVerifierN(vk);
        vk = _generatorKey(5);
        vk.ic[10] = 2;
        vm.expectRevert(abi.encodeWithSelector(Groth16BatchVerifierN.InvalidVerificationKey.selector, 24));
        new Groth16BatchVerifierN(vk);
        vk = _generatorKey(5);
        vk.delta[3] = 5;
        vm.expectRevert(abi.encodeWithSelector(Groth16BatchVerifierN.InvalidVerificationKey.selector, 26));
        new Groth16BatchVerifierN(vk);
    }

    function test_KeyHashKeyAndSignalCountRoundTrip() public view {
        for (uint256 ns = 1; ns <= 8; ++ns) {
            Groth16BatchVerifierN verifier = verifiers[ns - 1];
            bytes32 expected = keccak256(abi.encode(_generatorKey(ns)));
            assertEq(keccak256(abi.encode(verifier.verificationKey())), expected, "key returned as given");
            assertEq(verifier.verificationKeyHash(), expected, "key hash");
            assertEq(verifier.publicSignalCount(), ns, "signal count");
        }
        assertTrue(
            verifiers[0].TRANSCRIPT_TAG() != bytes32("zklora.groth16-batch.v1"),
            "its own transcript tag"
        );
    }
}
