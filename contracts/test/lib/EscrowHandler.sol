// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Vm} from "./TestBase.sol";
import {LoraEscrow} from "../../LoraEscrow.sol";
import {ToggleVerifier} from "../ToggleVerifier.sol";
import {ERC20Mock} from "../ERC20Mock.sol";

/// @title EscrowHandler
/// @notice TEST ONLY: the actions the invariant fuzzer drives against LoraEscrow (propose, fund, submit,
///         settle, refund, cancel, time passing), each one bounded to sensible inputs, with ghost
///         accounting of what went in and out.
contract EscrowHandler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    uint256 internal constant WINDOW = 1 hours;

    LoraEscrow public immutable escrow;
    ToggleVerifier public immutable verifier;
    ERC20Mock public immutable token;
    bytes32 public immutable shapeId;

    address[3] internal actors = [address(0xA1), address(0xA2), address(0xA3)];

    /// @notice Deals proposed through the handler.
    uint256[] public dealIds;
    /// @notice How many times each deal paid out (settle or refund); must stay <= 1.
    mapping(uint256 dealId => uint256) public payouts;
    /// @notice Whether a deal paid out while an entry was unproven (settle) — must stay false.
    bool public paidUnproven;
    /// @notice ETH / tokens deposited and paid out through the escrow, per asset.
    uint256 public ethIn;
    uint256 public ethOut;
    uint256 public tokenIn;
    uint256 public tokenOut;

    constructor(LoraEscrow escrow_, ToggleVerifier verifier_, ERC20Mock token_, bytes32 shapeId_) {
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
        uint256 moduleCount = 1 + (modules % 3);
        LoraEscrow.ModuleSpec[] memory specs = new LoraEscrow.ModuleSpec[](moduleCount);
        for (uint256 m = 0; m < moduleCount; ++m) {
            specs[m] = LoraEscrow.ModuleSpec({target: "t", shapeId: shapeId, commitment: 1 + m});
        }
        vm.prank(contributor);
        uint256 dealId = escrow.propose(
            price,
            useToken ? address(token) : address(0),
            buyer,
            0,
            specs,
            WINDOW
        );
        dealIds.push(dealId);
    }

    function fund(uint256 dealSeed, uint256 actorSeed, uint8 perModule) external {
        if (dealIds.length == 0) return;
        uint256 dealId = dealIds[dealSeed % dealIds.length];
        LoraEscrow.Deal memory deal = escrow.getDeal(dealId);
        if (deal.status != LoraEscrow.Status.Proposed) return;
        address buyer = deal.buyer == address(0) ? actors[actorSeed % 3] : deal.buyer;
        uint256 per = 1 + (perModule % 2);
        LoraEscrow.EntryInput[] memory entries = new LoraEscrow.EntryInput[](deal.moduleCount * per);
        for (uint256 m = 0; m < deal.moduleCount; ++m) {
            for (uint256 k = 0; k < per; ++k) {
                entries[m * per + k] = LoraEscrow.EntryInput({
                    module: uint32(m),
                    hX: 10 + k,
                    hY: bytes32(k),
                    fY: k
                });
            }
        }
        if (deal.token == address(0)) {
            vm.deal(buyer, buyer.balance + deal.price);
            vm.prank(buyer);
            escrow.fund{value: deal.price}(dealId, entries);
            ethIn += deal.price;
        } else {
            token.mint(buyer, deal.price);
            vm.startPrank(buyer);
            token.approve(address(escrow), deal.price);
            escrow.fund(dealId, entries);
            vm.stopPrank();
            tokenIn += deal.price;
        }
    }

    function submit(uint256 dealSeed, uint256 entrySeed, bool accept) external {
        if (dealIds.length == 0) return;
        uint256 dealId = dealIds[dealSeed % dealIds.length];
        LoraEscrow.Deal memory deal = escrow.getDeal(dealId);
        if (deal.status != LoraEscrow.Status.Funded || block.timestamp > deal.deadline) return;
        uint256 entryIndex = entrySeed % deal.entryCount;
        if (escrow.entryProven(dealId, entryIndex)) return;
        verifier.setAccept(accept);
        uint256[2] memory a;
        uint256[2][2] memory b;
        uint256[2] memory c;
        if (accept) {
            escrow.submit(dealId, entryIndex, a, b, c);
        } else {
            try escrow.submit(dealId, entryIndex, a, b, c) {
                revert("a rejected proof counted");
            } catch {}
        }
        verifier.setAccept(true);
    }

    function settle(uint256 dealSeed) external {
        if (dealIds.length == 0) return;
        uint256 dealId = dealIds[dealSeed % dealIds.length];
        LoraEscrow.Deal memory deal = escrow.getDeal(dealId);
        uint256 before = _balance(deal.token, deal.contributor);
        try escrow.settle(dealId) {
            for (uint256 i = 0; i < deal.entryCount; ++i) {
                if (!escrow.entryProven(dealId, i)) paidUnproven = true;
            }
            if (deal.status != LoraEscrow.Status.Funded || deal.unproven != 0) paidUnproven = true;
            uint256 paid = _balance(deal.token, deal.contributor) - before;
            if (paid != deal.price) revert("settle paid a wrong amount");
            _recordOut(dealId, deal.token, paid);
        } catch {}
    }

    function refund(uint256 dealSeed) external {
        if (dealIds.length == 0) return;
        uint256 dealId = dealIds[dealSeed % dealIds.length];
        LoraEscrow.Deal memory deal = escrow.getDeal(dealId);
        uint256 before = _balance(deal.token, deal.buyer);
        try escrow.refund(dealId) {
            if (deal.unproven == 0 || block.timestamp <= deal.deadline) revert("refund in the wrong state");
            uint256 paid = _balance(deal.token, deal.buyer) - before;
            if (paid != deal.price) revert("refund paid a wrong amount");
            _recordOut(dealId, deal.token, paid);
        } catch {}
    }

    function cancel(uint256 dealSeed) external {
        if (dealIds.length == 0) return;
        uint256 dealId = dealIds[dealSeed % dealIds.length];
        LoraEscrow.Deal memory deal = escrow.getDeal(dealId);
        vm.prank(deal.contributor);
        try escrow.cancel(dealId) {
            if (deal.status != LoraEscrow.Status.Proposed) revert("cancelled a funded deal");
        } catch {}
    }

    function passTime(uint256 secondsSeed) external {
        vm.warp(block.timestamp + (secondsSeed % (2 * WINDOW)));
    }

    function _balance(address asset, address account) internal view returns (uint256) {
        return asset == address(0) ? account.balance : token.balanceOf(account);
    }

    function _recordOut(uint256 dealId, address asset, uint256 amount) internal {
        ++payouts[dealId];
        if (asset == address(0)) ethOut += amount;
        else tokenOut += amount;
    }
}
