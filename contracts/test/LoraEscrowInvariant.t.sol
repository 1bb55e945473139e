// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {EscrowFixture} from "./lib/EscrowFixture.sol";
import {EscrowHandler} from "./lib/EscrowHandler.sol";
import {LoraEscrow} from "../LoraEscrow.sol";

/// @notice Invariants of LoraEscrow's accounting under random sequences of deal actions.
contract LoraEscrowInvariantTest is EscrowFixture {
    EscrowHandler internal handler;

    function setUp() public override {
        super.setUp();
        handler = new EscrowHandler(escrow, verifier, token, shapeId);
    }

    /// @notice The fuzzer calls only the handler.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @dev The sum of the prices of funded, not yet settled or refunded deals, per asset.
    function _held() internal view returns (uint256 eth, uint256 tokens) {
        uint256 next = escrow.nextDealId();
        for (uint256 id = 1; id < next; ++id) {
            LoraEscrow.Deal memory deal = escrow.getDeal(id);
            if (deal.status != LoraEscrow.Status.Funded) continue;
            if (deal.token == address(0)) eth += deal.price;
            else tokens += deal.price;
        }
    }

    /// forge-config: default.invariant.runs = 64
    /// forge-config: default.invariant.depth = 40
    function invariant_BalanceEqualsFundedUnsettledDeals() public view {
        (uint256 eth, uint256 tokens) = _held();
        assertEq(address(escrow).balance, eth, "ETH held == sum of funded, unsettled deals");
        assertEq(token.balanceOf(address(escrow)), tokens, "tokens held == sum of funded, unsettled deals");
        assertEq(handler.ethIn() - handler.ethOut(), eth, "ETH in - out");
        assertEq(handler.tokenIn() - handler.tokenOut(), tokens, "tokens in - out");
    }

    /// forge-config: default.invariant.runs = 64
    /// forge-config: default.invariant.depth = 40
    function invariant_NoDealPaysTwiceNorUnproven() public view {
        assertTrue(!handler.paidUnproven(), "a deal was settled with an unproven entry");
        uint256 count = handler.dealCount();
        for (uint256 i = 0; i < count; ++i) {
            uint256 dealId = handler.dealIds(i);
            uint256 payouts = handler.payouts(dealId);
            assertLe(payouts, 1, "a deal paid twice");
            LoraEscrow.Deal memory deal = escrow.getDeal(dealId);
            bool final_ =
                deal.status == LoraEscrow.Status.Settled || deal.status == LoraEscrow.Status.Refunded;
            assertEq(payouts, final_ ? 1 : 0, "paid exactly when settled or refunded");
            if (deal.status == LoraEscrow.Status.Settled) {
                for (uint256 e = 0; e < deal.entryCount; ++e) {
                    assertTrue(escrow.entryProven(dealId, e), "settled with an unproven entry");
                }
            }
        }
    }
}
