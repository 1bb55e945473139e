// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TestBase, TestPoints} from "./lib/TestBase.sol";
import {DealFixtureV2} from "./lib/DealFixtureV2.sol";
import {ToggleVerifierV2} from "./ToggleVerifierV2.sol";
import {LoraEscrowV2} from "../v2/LoraEscrowV2.sol";
import {LoraModuleVerifierV2} from "../v2/LoraModuleVerifierV2.sol";
import {ShapeRegistryV2} from "../v2/ShapeRegistryV2.sol";

/// @notice LoraEscrowV2's proven bookkeeping on both sides of its storage split (modules 0..47 flagged in the deal's
///         record, modules from 48 on marked in their word): single and batch submissions, repeats, duplicates in a
///         batch, a rejected batch leaving nothing proven, the views, settlement. The verifier is a switch; the
///         mocha tests check real proofs.
contract LoraEscrowV2ProvenTest is TestBase {
    uint256 internal constant MODULES = 60;

    LoraEscrowV2 internal escrow;
    ToggleVerifierV2 internal verifier;
    bytes32 internal shapeId = keccak256("toggle shape");
    uint256 internal dealId;

    receive() external payable {}

    function setUp() public {
        ShapeRegistryV2 registry = new ShapeRegistryV2(address(this));
        verifier = new ToggleVerifierV2(shapeId);
        registry.register(address(verifier));
        escrow = new LoraEscrowV2(registry);
        LoraEscrowV2.Module[] memory mods = new LoraEscrowV2.Module[](MODULES);
        for (uint256 m = 0; m < MODULES; ++m) mods[m] = LoraEscrowV2.Module(shapeId, TestPoints.g1());
        dealId = escrow.propose(address(this), address(0), 1 ether, bytes32(0), 1 hours, mods);
        LoraEscrowV2.DealKey[] memory keys = new LoraEscrowV2.DealKey[](1);
        keys[0] = LoraEscrowV2.DealKey(shapeId, TestPoints.g2());
        LoraEscrowV2.Entry[] memory entries = new LoraEscrowV2.Entry[](MODULES);
        for (uint256 m = 0; m < MODULES; ++m) entries[m] = DealFixtureV2.entry(m);
        vm.deal(address(this), 1 ether);
        escrow.fund{value: 1 ether}(dealId, keys, entries);
    }

    function test_ProvenAcrossTheFlaggedModules() public {
        LoraEscrowV2.Deal memory d = escrow.getDeal(dealId);
        assertEq(d.window, 1 hours, "window");
        assertEq(d.deadline, block.timestamp + 1 hours, "deadline");
        assertEq(escrow.moduleWordOf(dealId, 10), _word(10), "funded word");

        // One flagged module and one word-marked module, each submitted twice.
        uint256[2] memory single = [uint256(47), 50];
        for (uint256 k = 0; k < 2; ++k) {
            uint256 m = single[k];
            escrow.submit(dealId, _claim(m), _proof(), TestPoints.g2());
            assertTrue(escrow.isProven(dealId, m), "proven");
            assertEq(escrow.moduleWordOf(dealId, m), escrow.PROVEN(), "word of a proven module");
            vm.expectRevert(abi.encodeWithSelector(LoraEscrowV2.AlreadyProven.selector, m));
            escrow.submit(dealId, _claim(m), _proof(), TestPoints.g2());
        }
        assertEq(escrow.getDeal(dealId).proven, 2, "two proven");

        // A batch with proven modules (47, 50) and a duplicate (48): 46, 48, 49 are new.
        uint256[6] memory mods = [uint256(46), 47, 48, 50, 48, 49];
        LoraEscrowV2.Claim[] memory claims = new LoraEscrowV2.Claim[](6);
        for (uint256 i = 0; i < 6; ++i) claims[i] = _claim(mods[i]);
        assertEq(escrow.submitBatch(dealId, shapeId, TestPoints.g2(), claims, _proofs(6)), 3, "three new");
        assertEq(escrow.getDeal(dealId).proven, 5, "five proven");
        for (uint256 m = 46; m < 51; ++m) assertTrue(escrow.isProven(dealId, m), "46..50 proven");
        assertTrue(!escrow.isProven(dealId, 45) && !escrow.isProven(dealId, 51), "45 and 51 open");

        // A rejected batch leaves nothing proven, on either side.
        LoraEscrowV2.Claim[] memory two = new LoraEscrowV2.Claim[](2);
        two[0] = _claim(0);
        two[1] = _claim(59);
        verifier.setAccept(false);
        vm.expectRevert(LoraEscrowV2.BatchRejected.selector);
        escrow.submitBatch(dealId, shapeId, TestPoints.g2(), two, _proofs(2));
        vm.expectRevert(abi.encodeWithSelector(LoraEscrowV2.ProofRejected.selector, 59));
        escrow.submit(dealId, _claim(59), _proof(), TestPoints.g2());
        assertTrue(!escrow.isProven(dealId, 0) && !escrow.isProven(dealId, 59), "nothing proven");
        assertEq(escrow.moduleWordOf(dealId, 59), _word(59), "word kept");
        assertEq(escrow.getDeal(dealId).proven, 5, "still five");

        // The rest in one batch, then settlement.
        verifier.setAccept(true);
        LoraEscrowV2.Claim[] memory all = new LoraEscrowV2.Claim[](MODULES);
        for (uint256 m = 0; m < MODULES; ++m) all[m] = _claim(m);
        assertEq(
            escrow.submitBatch(dealId, shapeId, TestPoints.g2(), all, _proofs(MODULES)),
            MODULES - 5,
            "the rest"
        );
        assertEq(escrow.getDeal(dealId).proven, MODULES, "all proven");
        for (uint256 m = 0; m < MODULES; ++m) assertTrue(escrow.isProven(dealId, m), "every module proven");
        assertEq(
            escrow.submitBatch(dealId, shapeId, TestPoints.g2(), all, _proofs(MODULES)),
            0,
            "a repeat is a no-op"
        );
        uint256 before = address(this).balance;
        escrow.settle(dealId);
        assertEq(address(this).balance - before, 1 ether, "paid");
    }

    function test_BatchChecksEveryPendingClaim() public {
        LoraEscrowV2.Claim[] memory claims = new LoraEscrowV2.Claim[](2);
        claims[0] = _claim(3);
        claims[1] = _claim(55);
        claims[1].fY += 1;
        vm.expectRevert(abi.encodeWithSelector(LoraEscrowV2.ClaimMismatch.selector, 55));
        escrow.submitBatch(dealId, shapeId, TestPoints.g2(), claims, _proofs(2));
        claims[1] = _claim(60);
        vm.expectRevert(abi.encodeWithSelector(LoraEscrowV2.ModuleOutOfRange.selector, 60));
        escrow.submitBatch(dealId, shapeId, TestPoints.g2(), claims, _proofs(2));
        claims[1] = _claim(55);
        uint256[4] memory wrong = TestPoints.g2();
        wrong[0] += 1;
        vm.expectRevert(abi.encodeWithSelector(LoraEscrowV2.DealKeyMismatch.selector, shapeId));
        escrow.submitBatch(dealId, shapeId, wrong, claims, _proofs(2));
        assertEq(escrow.submitBatch(dealId, shapeId, TestPoints.g2(), claims, _proofs(2)), 2, "both");
    }

    function _claim(uint256 m) internal view returns (LoraEscrowV2.Claim memory) {
        return DealFixtureV2.claim(escrow, dealId, shapeId, m);
    }

    function _word(uint256 m) internal view returns (bytes32) {
        LoraEscrowV2.Claim memory c = _claim(m);
        return keccak256(abi.encode(keccak256(abi.encode(shapeId, c.wM)), c.rho, c.fY, c.dX));
    }

    function _proof() internal pure returns (LoraModuleVerifierV2.Proof memory p) {}

    function _proofs(uint256 n) internal pure returns (LoraModuleVerifierV2.Proof[] memory) {
        return new LoraModuleVerifierV2.Proof[](n);
    }
}
