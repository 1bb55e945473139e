// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TestBase, TestPoints} from "./lib/TestBase.sol";
import {DealFixtureV2} from "./lib/DealFixtureV2.sol";
import {ToggleVerifierV2} from "./ToggleVerifierV2.sol";
import {LoraEscrowV2} from "../v2/LoraEscrowV2.sol";
import {LoraModuleVerifierV2} from "../v2/LoraModuleVerifierV2.sol";
import {ShapeRegistryV2} from "../v2/ShapeRegistryV2.sol";

/// @title ReentrantParty
/// @notice TEST ONLY: a contributor or buyer contract that, when paid in ETH, calls the escrow again
///         (settle and refund of the same deal) and records how each inner call ended.
contract ReentrantParty {
    LoraEscrowV2 public immutable escrow;
    uint256 public dealId;
    uint256 public received;
    bytes public settleError;
    bytes public refundError;

    constructor(LoraEscrowV2 escrow_) {
        escrow = escrow_;
    }

    function propose(address buyer, bytes32 shapeId) external returns (uint256 id) {
        LoraEscrowV2.Module[] memory mods = new LoraEscrowV2.Module[](1);
        mods[0] = LoraEscrowV2.Module(shapeId, [uint256(1), 2]);
        id = escrow.propose(buyer, address(0), 1 ether, bytes32(0), 1 hours, mods);
        dealId = id;
    }

    function fund(
        uint256 id,
        LoraEscrowV2.DealKey[] calldata keys,
        LoraEscrowV2.Entry[] calldata entries
    ) external payable {
        dealId = id;
        escrow.fund{value: msg.value}(id, keys, entries);
    }

    receive() external payable {
        received += msg.value;
        try escrow.settle(dealId) {} catch (bytes memory e) {
            settleError = e;
        }
        try escrow.refund(dealId) {} catch (bytes memory e) {
            refundError = e;
        }
    }
}

/// @notice LoraEscrowV2 pays once: a contributor or buyer contract that re-enters settle or refund from
///         its receive hook is refused (OpenZeppelin's ReentrancyGuard), and the deal's state was final
///         before the payment (checks-effects-interactions).
contract LoraEscrowV2ReentrancyTest is TestBase {
    bytes32 internal constant SHAPE = keccak256("toggle shape");
    bytes4 internal constant REENTRANT = bytes4(keccak256("ReentrancyGuardReentrantCall()"));
    LoraEscrowV2 internal escrow;

    function setUp() public {
        ShapeRegistryV2 registry = new ShapeRegistryV2(address(this));
        registry.register(address(new ToggleVerifierV2(SHAPE)));
        escrow = new LoraEscrowV2(registry);
    }

    function _fundArgs()
        internal
        pure
        returns (LoraEscrowV2.DealKey[] memory keys, LoraEscrowV2.Entry[] memory entries)
    {
        keys = new LoraEscrowV2.DealKey[](1);
        keys[0] = LoraEscrowV2.DealKey(SHAPE, TestPoints.g2());
        entries = new LoraEscrowV2.Entry[](1);
        entries[0] = DealFixtureV2.entry(0);
    }

    function _prove(uint256 id) internal {
        LoraModuleVerifierV2.Proof memory proof;
        escrow.submit(id, DealFixtureV2.claim(escrow, id, SHAPE, 0), proof, TestPoints.g2());
    }

    function _isReentrant(bytes memory e) internal pure returns (bool) {
        return e.length >= 4 && bytes4(e) == REENTRANT;
    }

    function test_ContributorReenteringOnSettleIsPaidOnce() public {
        ReentrantParty contributor = new ReentrantParty(escrow);
        address buyer = address(0xB0B);
        uint256 id = contributor.propose(buyer, SHAPE);
        (LoraEscrowV2.DealKey[] memory keys, LoraEscrowV2.Entry[] memory entries) = _fundArgs();
        vm.deal(buyer, 1 ether);
        vm.prank(buyer);
        escrow.fund{value: 1 ether}(id, keys, entries);
        _prove(id);
        escrow.settle(id);
        assertEq(contributor.received(), 1 ether, "paid exactly the price, once");
        assertEq(address(escrow).balance, 0, "the escrow holds nothing");
        assertTrue(_isReentrant(contributor.settleError()), "re-entered settle refused by the guard");
        assertTrue(_isReentrant(contributor.refundError()), "re-entered refund refused by the guard");
        assertEq(uint256(escrow.getDeal(id).status), uint256(LoraEscrowV2.Status.Settled), "settled");
    }

    function test_BuyerReenteringOnRefundIsRefundedOnce() public {
        ReentrantParty buyer = new ReentrantParty(escrow);
        address contributor = address(0xC0);
        LoraEscrowV2.Module[] memory mods = new LoraEscrowV2.Module[](1);
        mods[0] = LoraEscrowV2.Module(SHAPE, [uint256(1), 2]);
        vm.prank(contributor);
        uint256 id = escrow.propose(address(buyer), address(0), 1 ether, bytes32(0), 1 hours, mods);
        (LoraEscrowV2.DealKey[] memory keys, LoraEscrowV2.Entry[] memory entries) = _fundArgs();
        vm.deal(address(this), 1 ether);
        buyer.fund{value: 1 ether}(id, keys, entries);
        vm.warp(block.timestamp + 1 hours + 1);
        escrow.refund(id);
        assertEq(buyer.received(), 1 ether, "refunded exactly the price, once");
        assertEq(address(escrow).balance, 0, "the escrow holds nothing");
        assertTrue(_isReentrant(buyer.refundError()), "re-entered refund refused by the guard");
        assertTrue(_isReentrant(buyer.settleError()), "re-entered settle refused by the guard");
        assertEq(uint256(escrow.getDeal(id).status), uint256(LoraEscrowV2.Status.Refunded), "refunded");
    }
}
