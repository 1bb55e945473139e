// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {EscrowFixture} from "./lib/EscrowFixture.sol";
import {LoraEscrow} from "../LoraEscrow.sol";
import {ToggleVerifier3} from "./ToggleVerifier3.sol";

/// @notice State machine and fuzz tests of weight delivery (delivery verifier and key hasher are test
///         stand-ins; the real-proof, real-Poseidon tests are test/contracts/delivery*.test.ts).
contract LoraEscrowDeliveryTest is EscrowFixture {
    ToggleVerifier3 internal deliveryVerifier;

    function setUp() public override {
        super.setUp();
        deliveryVerifier = new ToggleVerifier3(true);
        registry.registerDelivery(4, 2, 3, address(deliveryVerifier));
    }

    function _key(uint256 m) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode("key", m))) % P;
    }

    function _proposeDelivery(uint256 price, uint256 moduleCount) internal returns (uint256) {
        vm.prank(CONTRIBUTOR);
        return
            escrow.proposeWithDelivery(
                price,
                address(0),
                BUYER,
                bytes32("base"),
                _modules(moduleCount),
                WINDOW
            );
    }

    function _deliver(uint256 dealId, uint256 m) internal {
        uint256[2] memory a;
        uint256[2][2] memory b;
        uint256[2] memory c;
        uint256 hK = keyHasher.poseidon([_key(m)]);
        vm.prank(CONTRIBUTOR);
        escrow.submitDelivery(dealId, m, hK, 100 + m, a, b, c);
    }

    function _keys(uint256 count) internal pure returns (uint256[] memory keys) {
        keys = new uint256[](count);
        for (uint256 m = 0; m < count; ++m) keys[m] = _key(m);
    }

    function test_DeliveryDealPaysOnlyWithKeys() public {
        uint256 dealId = _proposeDelivery(1 ether, 2);
        _deliver(dealId, 0);
        _deliver(dealId, 1);
        _fundEth(dealId, BUYER, 1 ether, 2, 1);
        _proveAll(dealId);
        vm.expectRevert(abi.encodeWithSelector(LoraEscrow.KeysRequired.selector, dealId));
        escrow.settle(dealId);
        escrow.settleWithKeys(dealId, _keys(2));
        assertEq(CONTRIBUTOR.balance, 1 ether, "contributor paid with the keys");
        assertEq(address(escrow).balance, 0, "escrow empty");
    }

    function test_FundNeedsEveryDelivery() public {
        uint256 dealId = _proposeDelivery(1 ether, 3);
        _deliver(dealId, 0);
        _deliver(dealId, 2);
        vm.deal(BUYER, 1 ether);
        LoraEscrow.EntryInput[] memory entries = _entries(3, 1);
        vm.expectRevert(abi.encodeWithSelector(LoraEscrow.DeliveriesMissing.selector, dealId, 1));
        vm.prank(BUYER);
        escrow.fund{value: 1 ether}(dealId, entries);
    }

    function test_RejectedDeliveryProofStoresNothing() public {
        uint256 dealId = _proposeDelivery(1 ether, 1);
        deliveryVerifier.setAccept(false);
        uint256[2] memory a;
        uint256[2][2] memory b;
        uint256[2] memory c;
        vm.expectRevert(abi.encodeWithSelector(LoraEscrow.InvalidDeliveryProof.selector, dealId, 0));
        vm.prank(CONTRIBUTOR);
        escrow.submitDelivery(dealId, 0, 1, 2, a, b, c);
        assertTrue(!escrow.getDeliveries(dealId)[0].proven, "not proven");
    }

    function testFuzz_WrongKeyNeverPays(uint256 wrong, uint8 which) public {
        uint256 m = bound(which, 0, 1);
        wrong = bound(wrong, 0, P - 1);
        vm.assume(wrong != _key(m));
        uint256 dealId = _proposeDelivery(1 ether, 2);
        _deliver(dealId, 0);
        _deliver(dealId, 1);
        _fundEth(dealId, BUYER, 1 ether, 2, 1);
        _proveAll(dealId);
        uint256[] memory keys = _keys(2);
        keys[m] = wrong;
        vm.expectRevert(abi.encodeWithSelector(LoraEscrow.WrongKey.selector, dealId, m));
        escrow.settleWithKeys(dealId, keys);
        assertEq(address(escrow).balance, 1 ether, "deposit kept");
    }

    function testFuzz_RefundAfterWindowWithoutKeys(uint256 late) public {
        late = bound(late, 1, 365 days);
        uint256 dealId = _proposeDelivery(1 ether, 1);
        _deliver(dealId, 0);
        _fundEth(dealId, BUYER, 1 ether, 1, 1);
        _proveAll(dealId);
        uint256 deadline = escrow.getDeal(dealId).deadline;
        vm.warp(deadline + late);
        vm.expectRevert(abi.encodeWithSelector(LoraEscrow.ProvingWindowClosed.selector, dealId, deadline));
        escrow.settleWithKeys(dealId, _keys(1));
        escrow.refund(dealId);
        assertEq(BUYER.balance, 1 ether, "buyer refunded");
        assertEq(CONTRIBUTOR.balance, 0, "contributor unpaid");
    }
}
