// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TestBase} from "./lib/TestBase.sol";
import {EscrowHandlerV2} from "./lib/EscrowHandlerV2.sol";
import {ToggleVerifierV2} from "./ToggleVerifierV2.sol";
import {ERC20Mock} from "./ERC20Mock.sol";
import {LoraEscrowV2} from "../v2/LoraEscrowV2.sol";
import {ShapeRegistryV2} from "../v2/ShapeRegistryV2.sol";

/// @notice LoraEscrowV2's accounting under random sequences of deal actions (fuzzed sequences; the verifier is a
///         switch: what is tested is the escrow's bookkeeping, not the proofs, which the mocha tests check with
///         real proofs): the escrow holds exactly the prices of funded, unsettled deals; a deal pays once, when
///         settled (every module proven) or refunded; the proven counter counts the proven modules.
contract LoraEscrowV2InvariantTest is TestBase {
    LoraEscrowV2 internal escrow;
    ERC20Mock internal token;
    EscrowHandlerV2 internal handler;

    function setUp() public {
        bytes32 shapeId = keccak256("toggle shape");
        ShapeRegistryV2 registry = new ShapeRegistryV2(address(this));
        ToggleVerifierV2 verifier = new ToggleVerifierV2(shapeId);
        registry.register(address(verifier));
        escrow = new LoraEscrowV2(registry);
        token = new ERC20Mock("Mock", "MCK");
        handler = new EscrowHandlerV2(escrow, verifier, token, shapeId);
    }

    /// @notice Fuzz over sequences of deal actions: each step picks an action of the handler and its inputs;
    ///         both invariants are checked after every step.
    /// forge-config: default.fuzz.runs = 64
    function testFuzz_RandomDealSequences(uint256[24] calldata steps) public {
        for (uint256 i = 0; i < steps.length; ++i) {
            uint256 s = steps[i];
            uint256 action = s % 8;
            uint256 a = s >> 8;
            uint256 b = s >> 64;
            if (action == 0) handler.propose(a, b, (s >> 3) & 1 == 1, uint8(s >> 16), (s >> 4) & 1 == 1);
            else if (action == 1) handler.fund(a, b);
            else if (action == 2) handler.submit(a, b, (s >> 5) & 1 == 1);
            else if (action == 3) handler.submitBatch(a, (s >> 5) & 1 == 1);
            else if (action == 4) handler.settle(a);
            else if (action == 5) handler.refund(a);
            else if (action == 6) handler.cancel(a);
            else handler.warp(b);
            _checkBalances();
            _checkPayouts();
        }
    }

    /// @notice A fixed sequence reaches every outcome the fuzzed ones check: settled, refunded, cancelled.
    function test_SequenceReachesEveryOutcome() public {
        handler.propose(0, 5 ether, false, 2, false); // deal 1: ETH, 3 modules
        handler.fund(0, 0);
        handler.submit(0, 0, false); // rejected proof: reverts ProofRejected, nothing proven
        handler.submitBatch(0, true);
        handler.settle(0);
        handler.propose(1, 7, true, 0, true); // deal 2: token, open buyer
        handler.fund(1, 2);
        handler.warp(2 hours - 1);
        handler.warp(2);
        handler.refund(1);
        handler.propose(2, 1, false, 1, false); // deal 3: cancelled
        handler.cancel(2);
        assertEq(uint256(escrow.getDeal(1).status), uint256(LoraEscrowV2.Status.Settled), "deal 1 settled");
        assertEq(uint256(escrow.getDeal(2).status), uint256(LoraEscrowV2.Status.Refunded), "deal 2 refunded");
        assertEq(
            uint256(escrow.getDeal(3).status),
            uint256(LoraEscrowV2.Status.Cancelled),
            "deal 3 cancelled"
        );
        assertEq(
            handler.ethOut(),
            5 ether + 1,
            "the contributor of deal 1 was paid (the handler prices 1 + input)"
        );
        assertEq(handler.tokenOut(), 8, "the buyer of deal 2 got its tokens back");
        _checkBalances();
        _checkPayouts();
    }

    function _held() internal view returns (uint256 eth, uint256 tokens) {
        uint256 count = escrow.dealCount();
        for (uint256 id = 1; id <= count; ++id) {
            LoraEscrowV2.Deal memory d = escrow.getDeal(id);
            if (d.status != LoraEscrowV2.Status.Funded) continue;
            if (d.token == address(0)) eth += d.price;
            else tokens += d.price;
        }
    }

    function _checkBalances() internal view {
        (uint256 eth, uint256 tokens) = _held();
        assertEq(address(escrow).balance, eth, "ETH held == sum of funded, unsettled deals");
        assertEq(token.balanceOf(address(escrow)), tokens, "tokens held == sum of funded, unsettled deals");
        assertEq(handler.ethIn() - handler.ethOut(), eth, "ETH in - out");
        assertEq(handler.tokenIn() - handler.tokenOut(), tokens, "tokens in - out");
    }

    function _checkPayouts() internal view {
        assertTrue(!handler.paidUnproven(), "a deal was settled with an unproven module");
        uint256 count = handler.dealCount();
        for (uint256 i = 0; i < count; ++i) {
            uint256 id = handler.dealIds(i);
            LoraEscrowV2.Deal memory d = escrow.getDeal(id);
            bool final_ = d.status == LoraEscrowV2.Status.Settled || d.status == LoraEscrowV2.Status.Refunded;
            assertEq(handler.payouts(id), final_ ? 1 : 0, "paid exactly once, when settled or refunded");
            uint256 proven;
            for (uint256 m = 0; m < d.modules; ++m) if (escrow.isProven(id, m)) ++proven;
            assertEq(proven, d.proven, "the proven counter counts the proven modules");
            if (d.status == LoraEscrowV2.Status.Settled)
                assertEq(proven, d.modules, "settled with every module proven");
        }
    }
}

/// @notice Fuzz tests of LoraEscrowV2's input checks.
contract LoraEscrowV2FuzzTest is TestBase {
    LoraEscrowV2 internal escrow;

    function setUp() public {
        ShapeRegistryV2 registry = new ShapeRegistryV2(address(this));
        registry.register(address(new ToggleVerifierV2(keccak256("toggle shape"))));
        escrow = new LoraEscrowV2(registry);
    }

    /// @notice Fuzz: any δ' that is not a point of G2 is refused at funding.
    function testFuzz_FundRefusesInvalidDealKey(uint256 a, uint256 b, uint256 c, uint256 d) public {
        vm.assume(!(a == 0 && b == 0 && c == 0 && d == 0));
        LoraEscrowV2.Module[] memory mods = new LoraEscrowV2.Module[](1);
        bytes32 shapeId = keccak256("toggle shape");
        mods[0] = LoraEscrowV2.Module(shapeId, [uint256(1), 2]);
        uint256 id = escrow.propose(address(this), address(0), 1, bytes32(0), 1 hours, mods);
        LoraEscrowV2.DealKey[] memory keys = new LoraEscrowV2.DealKey[](1);
        keys[0] = LoraEscrowV2.DealKey(shapeId, [a, b, c, d]);
        LoraEscrowV2.Entry[] memory entries = new LoraEscrowV2.Entry[](1);
        entries[0] = LoraEscrowV2.Entry(bytes32(0), bytes32(0), [uint256(1), 2], 1);
        vm.deal(address(this), 1);
        vm.expectRevert(abi.encodeWithSelector(LoraEscrowV2.InvalidDealKey.selector, shapeId));
        escrow.fund{value: 1}(id, keys, entries);
    }
}
