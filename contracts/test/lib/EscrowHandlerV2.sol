// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Vm, TestPoints} from "./TestBase.sol";
import {DealFixtureV2} from "./DealFixtureV2.sol";
import {LoraEscrowV2} from "../../v2/LoraEscrowV2.sol";
import {LoraModuleVerifierV2} from "../../v2/LoraModuleVerifierV2.sol";
import {ToggleVerifierV2} from "../ToggleVerifierV2.sol";
import {ERC20Mock} from "../ERC20Mock.sol";

/// @title EscrowHandlerV2
/// @notice TEST ONLY: the actions the invariant fuzzer drives against LoraEscrowV2 (propose, fund, submit,
///         submitBatch, settle, refund, cancel, time passing), bounded to sensible inputs, with ghost accounting.
contract EscrowHandlerV2 {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    uint64 internal constant WINDOW = 1 hours;

    LoraEscrowV2 public immutable escrow;
    ToggleVerifierV2 public immutable verifier;
    ERC20Mock public immutable token;
    bytes32 public immutable shapeId;

    address[3] internal actors = [address(0xB1), address(0xB2), address(0xB3)];

    uint256[] public dealIds;
    mapping(uint256 dealId => uint256) public payouts;
    bool public paidUnproven;
    uint256 public ethIn;
    uint256 public ethOut;
    uint256 public tokenIn;
    uint256 public tokenOut;

    constructor(LoraEscrowV2 escrow_, ToggleVerifierV2 verifier_, ERC20Mock token_, bytes32 shapeId_) {
        escrow = escrow_;
        verifier = verifier_;
        token = token_;
        shapeId = shapeId_;
    }

    function dealCount() external view returns (uint256) {
        return dealIds.length;
    }

    function propose(
        uint256 actorSeed,
        uint256 price,
        bool useToken,
        uint8 modules,
        bool openBuyer
    ) external {
        address contributor = actors[actorSeed % 3];
        address buyer = openBuyer ? address(0) : actors[(actorSeed + 1) % 3];
        price = 1 + (price % 1e24);
        LoraEscrowV2.Module[] memory mods = new LoraEscrowV2.Module[](1 + (modules % 3));
        for (uint256 m = 0; m < mods.length; ++m) mods[m] = LoraEscrowV2.Module(shapeId, TestPoints.g1());
        vm.prank(contributor);
        uint256 id = escrow.propose(
            buyer,
            useToken ? address(token) : address(0),
            price,
            bytes32(0),
            WINDOW,
            mods
        );
        dealIds.push(id);
    }

    function _pick(uint256 seed) internal view returns (uint256 id, bool ok) {
        if (dealIds.length == 0) return (0, false);
        return (dealIds[seed % dealIds.length], true);
    }

    function fund(uint256 dealSeed, uint256 actorSeed) external {
        (uint256 id, bool ok) = _pick(dealSeed);
        if (!ok) return;
        LoraEscrowV2.Deal memory d = escrow.getDeal(id);
        if (d.status != LoraEscrowV2.Status.Proposed) return;
        address buyer = d.buyer == address(0) ? actors[actorSeed % 3] : d.buyer;
        LoraEscrowV2.DealKey[] memory keys = new LoraEscrowV2.DealKey[](1);
        keys[0] = LoraEscrowV2.DealKey(shapeId, TestPoints.g2());
        LoraEscrowV2.Entry[] memory entries = new LoraEscrowV2.Entry[](d.modules);
        for (uint256 m = 0; m < d.modules; ++m) entries[m] = DealFixtureV2.entry(m);
        if (d.token == address(0)) {
            vm.deal(buyer, d.price);
            vm.prank(buyer);
            escrow.fund{value: d.price}(id, keys, entries);
            ethIn += d.price;
        } else {
            token.mint(buyer, d.price);
            vm.prank(buyer);
            token.approve(address(escrow), d.price);
            vm.prank(buyer);
            escrow.fund(id, keys, entries);
            tokenIn += d.price;
        }
    }

    function _proof() internal pure returns (LoraModuleVerifierV2.Proof memory p) {}

    function submit(uint256 dealSeed, uint256 moduleSeed, bool accept) external {
        (uint256 id, bool ok) = _pick(dealSeed);
        if (!ok) return;
        LoraEscrowV2.Deal memory d = escrow.getDeal(id);
        if (d.status != LoraEscrowV2.Status.Funded || block.timestamp > d.deadline) return;
        uint256 m = moduleSeed % d.modules;
        if (escrow.isProven(id, m)) return;
        verifier.setAccept(accept);
        if (!accept) {
            vm.expectRevert(abi.encodeWithSelector(LoraEscrowV2.ProofRejected.selector, m));
        }
        escrow.submit(id, DealFixtureV2.claim(escrow, id, shapeId, m), _proof(), TestPoints.g2());
    }

    function submitBatch(uint256 dealSeed, bool accept) external {
        (uint256 id, bool ok) = _pick(dealSeed);
        if (!ok) return;
        LoraEscrowV2.Deal memory d = escrow.getDeal(id);
        if (d.status != LoraEscrowV2.Status.Funded || block.timestamp > d.deadline) return;
        LoraEscrowV2.Claim[] memory claims = new LoraEscrowV2.Claim[](d.modules);
        LoraModuleVerifierV2.Proof[] memory proofs = new LoraModuleVerifierV2.Proof[](d.modules);
        bool anyOpen;
        for (uint256 m = 0; m < d.modules; ++m) {
            claims[m] = DealFixtureV2.claim(escrow, id, shapeId, m);
            if (!escrow.isProven(id, m)) anyOpen = true;
        }
        verifier.setAccept(accept);
        if (!accept && anyOpen) vm.expectRevert(LoraEscrowV2.BatchRejected.selector);
        escrow.submitBatch(id, shapeId, TestPoints.g2(), claims, proofs);
    }

    function settle(uint256 dealSeed) external {
        (uint256 id, bool ok) = _pick(dealSeed);
        if (!ok) return;
        LoraEscrowV2.Deal memory d = escrow.getDeal(id);
        if (d.status != LoraEscrowV2.Status.Funded || d.proven != d.modules) return;
        for (uint256 m = 0; m < d.modules; ++m) if (!escrow.isProven(id, m)) paidUnproven = true;
        escrow.settle(id);
        _paid(id, d);
    }

    function refund(uint256 dealSeed) external {
        (uint256 id, bool ok) = _pick(dealSeed);
        if (!ok) return;
        LoraEscrowV2.Deal memory d = escrow.getDeal(id);
        if (d.status != LoraEscrowV2.Status.Funded || block.timestamp <= d.deadline || d.proven == d.modules)
            return;
        escrow.refund(id);
        _paid(id, d);
    }

    function cancel(uint256 dealSeed) external {
        (uint256 id, bool ok) = _pick(dealSeed);
        if (!ok) return;
        LoraEscrowV2.Deal memory d = escrow.getDeal(id);
        if (d.status != LoraEscrowV2.Status.Proposed) return;
        vm.prank(d.contributor);
        escrow.cancel(id);
    }

    function warp(uint256 secondsAhead) external {
        vm.warp(block.timestamp + (secondsAhead % (2 * WINDOW)));
    }

    function _paid(uint256 id, LoraEscrowV2.Deal memory d) internal {
        payouts[id] += 1;
        if (d.token == address(0)) ethOut += d.price;
        else tokenOut += d.price;
    }
}
