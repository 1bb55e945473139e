// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TestBase} from "./lib/TestBase.sol";
import {Groth16BatchVerifier} from "../Groth16BatchVerifier.sol";
import {IGroth16BatchVerifier4} from "../interfaces/IGroth16BatchVerifier4.sol";

/// @notice Unit and fuzz tests of Groth16BatchVerifier's algebra and input checks, with a key made of the
///         group generators (alpha = IC_j = G1, beta = gamma = delta = G2), for which a proof with public
///         signals x and C = c·G1 is valid exactly when A = (2 + sum x_j + c)·G1. Real snarkjs proofs:
///         test/contracts/batch-verifier.test.ts.
contract Groth16BatchVerifierTest is TestBase {
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

    Groth16BatchVerifier internal verifier;

    function setUp() public {
        verifier = new Groth16BatchVerifier(_generatorKey());
    }

    function _generatorKey() internal pure returns (Groth16BatchVerifier.VerificationKey memory vk) {
        vk.alpha = [uint256(1), 2];
        vk.beta = [G2X1, G2X2, G2Y1, G2Y2];
        vk.gamma = vk.beta;
        vk.delta = vk.beta;
        for (uint256 j = 0; j < 5; ++j) {
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
        uint256[4] memory x,
        uint256 c
    ) internal view returns (IGroth16BatchVerifier4.BatchProof memory p) {
        uint256 a = addmod(2, c, P);
        for (uint256 j = 0; j < 4; ++j) a = addmod(a, x[j], P);
        p.a = _mulG(a);
        p.b = [[G2X1, G2X2], [G2Y1, G2Y2]];
        p.c = _mulG(c);
        p.signals = x;
    }

    function _batch(
        uint256 seed,
        uint256 n
    ) internal view returns (IGroth16BatchVerifier4.BatchProof[] memory list) {
        list = new IGroth16BatchVerifier4.BatchProof[](n);
        for (uint256 i = 0; i < n; ++i) {
            uint256[4] memory x;
            for (uint256 j = 0; j < 4; ++j) x[j] = uint256(keccak256(abi.encode(seed, i, j))) % P;
            list[i] = _proof(x, uint256(keccak256(abi.encode(seed, i))) % P);
        }
    }

    function testFuzz_AcceptsValidBatchesRejectsOneWrongSignal(
        uint256 seed,
        uint8 size,
        uint8 at,
        uint8 which
    ) public view {
        uint256 n = bound(size, 1, 6);
        IGroth16BatchVerifier4.BatchProof[] memory list = _batch(seed, n);
        assertTrue(verifier.verifyBatch(list), "valid batch accepted");
        uint256 i = bound(at, 0, n - 1);
        uint256 j = bound(which, 0, 3);
        list[i].signals[j] = addmod(list[i].signals[j], 1, P);
        assertTrue(!verifier.verifyBatch(list), "batch with a wrong signal rejected");
    }

    function testFuzz_RejectsErrorsThatCancelInAPlainSum(uint256 seed, uint256 d) public view {
        // Proof 0 claims signal 0 + d, proof 1 signal 0 - d: sum_i vk_x_i is unchanged.
        d = bound(d, 1, P - 1);
        IGroth16BatchVerifier4.BatchProof[] memory list = _batch(seed, 3);
        list[0].signals[0] = addmod(list[0].signals[0], d, P);
        list[1].signals[0] = addmod(list[1].signals[0], P - d, P);
        assertTrue(!verifier.verifyBatch(list), "cancelling errors rejected");
    }

    function test_RejectsEmptyBatch() public {
        IGroth16BatchVerifier4.BatchProof[] memory list = new IGroth16BatchVerifier4.BatchProof[](0);
        vm.expectRevert(IGroth16BatchVerifier4.EmptyBatch.selector);
        verifier.verifyBatch(list);
    }

    function testFuzz_RejectsSignalsNotInField(uint256 value, uint8 at, uint8 which) public {
        value = bound(value, P, type(uint256).max);
        IGroth16BatchVerifier4.BatchProof[] memory list = _batch(1, 3);
        uint256 i = bound(at, 0, 2);
        uint256 j = bound(which, 0, 3);
        list[i].signals[j] = value;
        vm.expectRevert(
            abi.encodeWithSelector(IGroth16BatchVerifier4.SignalNotInField.selector, i, j, value)
        );
        verifier.verifyBatch(list);
    }

    function testFuzz_RejectsCoordinatesNotInField(uint256 value, uint8 which) public {
        value = bound(value, Q, type(uint256).max);
        IGroth16BatchVerifier4.BatchProof[] memory list = _batch(2, 2);
        uint256 k = bound(which, 0, 7);
        if (k < 2) list[1].a[k] = value;
        else if (k < 6) list[1].b[(k - 2) / 2][k % 2] = value;
        else list[1].c[k - 6] = value;
        vm.expectRevert(
            abi.encodeWithSelector(IGroth16BatchVerifier4.CoordinateNotInField.selector, 1, value)
        );
        verifier.verifyBatch(list);
    }

    function testFuzz_RejectsPointsOffTheCurve(uint256 x, uint256 y, bool isC) public {
        x = bound(x, 0, Q - 1);
        y = bound(y, 0, Q - 1);
        vm.assume(!(x == 0 && y == 0) && mulmod(y, y, Q) != addmod(mulmod(mulmod(x, x, Q), x, Q), 3, Q));
        IGroth16BatchVerifier4.BatchProof[] memory list = _batch(3, 2);
        if (isC) list[0].c = [x, y];
        else list[0].a = [x, y];
        vm.expectRevert(abi.encodeWithSelector(IGroth16BatchVerifier4.PointNotOnCurve.selector, 0, isC));
        verifier.verifyBatch(list);
    }

    function test_ReturnsFalseForBOutsideTheSubgroupOrTwist() public view {
        IGroth16BatchVerifier4.BatchProof[] memory list = _batch(4, 2);
        list[1].b[1][1] = addmod(list[1].b[1][1], 1, Q);
        assertTrue(!verifier.verifyBatch(list), "B off the twist rejected (ecPairing fails)");
    }

    /// @dev verifyProof and verifyProofFromBase(signalBase(x0)) on one proof; both must agree.
    function _single(IGroth16BatchVerifier4.BatchProof memory p) internal view returns (bool) {
        bool plain = verifier.verifyProof(p.a, p.b, p.c, p.signals);
        uint256[2] memory base = verifier.signalBase(p.signals[0]);
        bool fromBase = verifier.verifyProofFromBase(
            p.a,
            p.b,
            p.c,
            base,
            [p.signals[1], p.signals[2], p.signals[3]]
        );
        assertTrue(plain == fromBase, "verifyProof and verifyProofFromBase agree");
        return plain;
    }

    function testFuzz_SingleProofPathsMatchABatchOfOne(uint256 seed, uint8 which, uint8 zeros) public view {
        IGroth16BatchVerifier4.BatchProof[] memory list = _batch(seed, 1);
        // Some signals zero (the paths skip their ecMul): still exactly the batch's answer.
        uint256[4] memory x = list[0].signals;
        for (uint256 k = 0; k < 4; ++k) if ((zeros >> k) & 1 == 1) x[k] = 0;
        list[0] = _proof(x, uint256(keccak256(abi.encode(seed))) % P);
        assertTrue(verifier.verifyBatch(list), "batch of one accepts");
        assertTrue(_single(list[0]), "single paths accept");
        uint256 j = bound(which, 0, 3);
        list[0].signals[j] = addmod(list[0].signals[j], 1, P);
        assertTrue(!verifier.verifyBatch(list), "batch of one rejects a wrong signal");
        assertTrue(!_single(list[0]), "single paths reject a wrong signal");
    }

    function testFuzz_SignalBaseIsIc0PlusX0TimesIc1(uint256 x0) public view {
        x0 = bound(x0, 0, P - 1);
        // IC_0 = IC_1 = G1 in the generator key: base = (1 + x0)·G1.
        uint256[2] memory base = verifier.signalBase(x0);
        uint256[2] memory expected = _mulG(addmod(1, x0, P));
        assertEq(base[0], expected[0], "x");
        assertEq(base[1], expected[1], "y");
    }

    function testFuzz_FromBaseRejectsAnotherBase(uint256 seed, uint256 d) public view {
        d = bound(d, 1, P - 1);
        IGroth16BatchVerifier4.BatchProof memory p = _batch(seed, 1)[0];
        uint256[2] memory base = verifier.signalBase(addmod(p.signals[0], d, P));
        assertTrue(
            !verifier.verifyProofFromBase(p.a, p.b, p.c, base, [p.signals[1], p.signals[2], p.signals[3]]),
            "base of another first signal rejected"
        );
    }

    function testFuzz_SingleProofInputErrors(uint256 value, uint8 which) public {
        IGroth16BatchVerifier4.BatchProof memory p = _batch(5, 1)[0];
        uint256[3] memory rest = [p.signals[1], p.signals[2], p.signals[3]];
        uint256[2] memory base = verifier.signalBase(p.signals[0]);
        uint256 k = bound(which, 0, 7);
        // A coordinate not below q: the same error as verifyBatch's, proof index 0.
        uint256 big = bound(value, Q, type(uint256).max);
        IGroth16BatchVerifier4.BatchProof memory bad = _batch(5, 1)[0];
        if (k < 2) bad.a[k] = big;
        else if (k < 6) bad.b[(k - 2) / 2][k % 2] = big;
        else bad.c[k - 6] = big;
        bytes memory err = abi.encodeWithSelector(
            IGroth16BatchVerifier4.CoordinateNotInField.selector,
            0,
            big
        );
        vm.expectRevert(err);
        verifier.verifyProof(bad.a, bad.b, bad.c, bad.signals);
        vm.expectRevert(err);
        verifier.verifyProofFromBase(bad.a, bad.b, bad.c, base, rest);
        // A signal not below p.
        uint256 j = k % 4;
        uint256 wide = bound(value, P, type(uint256).max);
        bad = _batch(5, 1)[0];
        bad.signals[j] = wide;
        vm.expectRevert(abi.encodeWithSelector(IGroth16BatchVerifier4.SignalNotInField.selector, 0, j, wide));
        verifier.verifyProof(bad.a, bad.b, bad.c, bad.signals);
        if (j == 0) {
            vm.expectRevert(
                abi.encodeWithSelector(IGroth16BatchVerifier4.SignalNotInField.selector, 0, 0, wide)
            );
            verifier.signalBase(wide);
        } else {
            uint256[3] memory wideRest = [rest[0], rest[1], rest[2]];
            wideRest[j - 1] = wide;
            vm.expectRevert(
                abi.encodeWithSelector(IGroth16BatchVerifier4.SignalNotInField.selector, 0, j, wide)
            );
            verifier.verifyProofFromBase(p.a, p.b, p.c, base, wideRest);
        }
        // A or C off the curve.
        bool isC = k % 2 == 1;
        bad = _batch(5, 1)[0];
        if (isC) bad.c[1] = addmod(bad.c[1], 1, Q);
        else bad.a[1] = addmod(bad.a[1], 1, Q);
        err = abi.encodeWithSelector(IGroth16BatchVerifier4.PointNotOnCurve.selector, 0, isC);
        vm.expectRevert(err);
        verifier.verifyProof(bad.a, bad.b, bad.c, bad.signals);
        vm.expectRevert(err);
        verifier.verifyProofFromBase(bad.a, bad.b, bad.c, base, rest);
        // A base off the curve or not below q.
        uint256[2] memory offBase = [base[0], addmod(base[1], 1, Q)];
        vm.expectRevert(
            abi.encodeWithSelector(Groth16BatchVerifier.InvalidBase.selector, offBase[0], offBase[1])
        );
        verifier.verifyProofFromBase(p.a, p.b, p.c, offBase, rest);
        offBase = [base[0] + Q, base[1]];
        vm.expectRevert(
            abi.encodeWithSelector(Groth16BatchVerifier.InvalidBase.selector, offBase[0], offBase[1])
        );
        verifier.verifyProofFromBase(p.a, p.b, p.c, offBase, rest);
    }

    function test_SingleProofReturnsFalseForBOffTheTwist() public view {
        IGroth16BatchVerifier4.BatchProof memory p = _batch(6, 1)[0];
        assertTrue(_single(p), "valid");
        p.b[1][1] = addmod(p.b[1][1], 1, Q);
        assertTrue(!_single(p), "B off the twist rejected (ecPairing fails)");
    }

    function test_ConstructorRejectsInvalidKeys() public {
        Groth16BatchVerifier.VerificationKey memory vk = _generatorKey();
        vk.alpha[1] = 3;
        vm.expectRevert(abi.encodeWithSelector(Groth16BatchVerifier.InvalidVerificationKey.selector, 0));
        new Groth16BatchVerifier(vk);
        vk = _generatorKey();
        vk.ic[9] = Q;
        vm.expectRevert(abi.encodeWithSelector(Groth16BatchVerifier.InvalidVerificationKey.selector, 23));
        new Groth16BatchVerifier(vk);
        vk = _generatorKey();
        vk.gamma[0] = 5;
        vm.expectRevert(abi.encodeWithSelector(Groth16BatchVerifier.InvalidVerificationKey.selector, 24));
        new Groth16BatchVerifier(vk);
    }

    function test_KeyHashAndKeyRoundTrip() public view {
        Groth16BatchVerifier.VerificationKey memory vk = verifier.verificationKey();
        assertEq(keccak256(abi.encode(vk)), keccak256(abi.encode(_generatorKey())), "key returned as given");
        assertEq(verifier.verificationKeyHash(), keccak256(abi.encode(_generatorKey())), "key hash");
    }
}
