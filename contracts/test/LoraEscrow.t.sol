// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {EscrowFixture} from "./lib/EscrowFixture.sol";
import {LoraEscrow} from "../LoraEscrow.sol";
import {VerifierRegistry} from "../VerifierRegistry.sol";
import {FeeOnTransferToken} from "./FeeOnTransferToken.sol";

/// @notice Unit and fuzz tests of LoraEscrow's accounting and state machine (verifier is a test switch).
contract LoraEscrowTest is EscrowFixture {
    function test_FullEthDealPaysContributorExactly() public {
        uint256 dealId = _propose(1 ether, address(0), BUYER, 2);
        _fundEth(dealId, BUYER, 1 ether, 2, 2);
        assertEq(address(escrow).balance, 1 ether, "escrow holds the deposit");
        _proveAll(dealId);
        escrow.settle(dealId);
        assertEq(CONTRIBUTOR.balance, 1 ether, "contributor paid");
        assertEq(address(escrow).balance, 0, "escrow empty");
        assertTrue(escrow.getDeal(dealId).status == LoraEscrow.Status.Settled, "settled");
    }

    function testFuzz_EthPaymentMustBeExact(uint256 price, uint256 sent) public {
        price = bound(price, 1, 1e30);
        sent = bound(sent, 0, 2e30);
        vm.assume(sent != price);
        uint256 dealId = _propose(price, address(0), address(0), 1);
        vm.deal(BUYER, sent);
        LoraEscrow.EntryInput[] memory entries = _entries(1, 1);
        vm.expectRevert(abi.encodeWithSelector(LoraEscrow.WrongPayment.selector, price, sent));
        vm.prank(BUYER);
        escrow.fund{value: sent}(dealId, entries);
    }

    function testFuzz_TokenDealRejectsEth(uint256 sent) public {
        sent = bound(sent, 1, 1e30);
        uint256 dealId = _propose(5, address(token), BUYER, 1);
        vm.deal(BUYER, sent);
        LoraEscrow.EntryInput[] memory entries = _entries(1, 1);
        vm.expectRevert(abi.encodeWithSelector(LoraEscrow.WrongPayment.selector, 0, sent));
        vm.prank(BUYER);
        escrow.fund{value: sent}(dealId, entries);
    }

    function testFuzz_NonFieldValuesRejected(uint256 value, uint8 which) public {
        value = bound(value, P, type(uint256).max);
        uint256 dealId = _propose(1, address(0), BUYER, 1);
        LoraEscrow.EntryInput[] memory entries = _entries(1, 1);
        if (which % 2 == 0) entries[0].hX = value;
        else entries[0].fY = value;
        vm.deal(BUYER, 1);
        vm.expectRevert(abi.encodeWithSelector(LoraEscrow.NotAFieldElement.selector, value));
        vm.prank(BUYER);
        escrow.fund{value: 1}(dealId, entries);
    }

    function testFuzz_NonFieldCommitmentRejected(uint256 value) public {
        value = bound(value, P, type(uint256).max);
        LoraEscrow.ModuleSpec[] memory modules = _modules(1);
        modules[0].commitment = value;
        vm.expectRevert(abi.encodeWithSelector(LoraEscrow.NotAFieldElement.selector, value));
        escrow.propose(1, address(0), BUYER, bytes32(0), modules, WINDOW);
    }

    function testFuzz_RhoMatchesTheFixedEncoding(uint256 hX, bytes32 hY, uint64 chainId) public {
        hX = bound(hX, 0, P - 1);
        vm.assume(chainId != 0);
        vm.chainId(chainId);
        uint256 dealId = _propose(1, address(0), BUYER, 1);
        LoraEscrow.EntryInput[] memory entries = new LoraEscrow.EntryInput[](1);
        entries[0] = LoraEscrow.EntryInput({module: 0, hX: hX, hY: hY, fY: 0});
        vm.deal(BUYER, 1);
        vm.prank(BUYER);
        escrow.fund{value: 1}(dealId, entries);
        uint256 expected =
            uint256(keccak256(abi.encode(uint256(chainId), address(escrow), dealId, uint256(0), hX, hY))) % P;
        assertEq(escrow.rhoOf(dealId, 0), expected, "rho");
        uint256[4] memory signals = escrow.publicSignalsOf(dealId, 0);
        assertEq(signals[0], 1000, "C_m");
        assertEq(signals[1], hX, "hX");
        assertEq(signals[2], expected, "rho signal");
        assertEq(signals[3], 0, "fY");
    }

    function testFuzz_RefundOnlyAfterDeadline(uint256 elapsed) public {
        elapsed = bound(elapsed, 0, 3 * WINDOW);
        uint256 dealId = _propose(3 ether, address(0), BUYER, 1);
        _fundEth(dealId, BUYER, 3 ether, 1, 2);
        uint256 deadline = escrow.getDeal(dealId).deadline;
        _submit(dealId, 0);
        vm.warp(block.timestamp + elapsed);
        if (block.timestamp <= deadline) {
            vm.expectRevert(abi.encodeWithSelector(LoraEscrow.ProvingWindowOpen.selector, dealId, deadline));
            escrow.refund(dealId);
            assertEq(BUYER.balance, 0, "no refund inside the window");
        } else {
            escrow.refund(dealId);
            assertEq(BUYER.balance, 3 ether, "refund after the window");
            vm.expectRevert(
                abi.encodeWithSelector(
                    LoraEscrow.WrongStatus.selector,
                    dealId,
                    LoraEscrow.Status.Refunded,
                    LoraEscrow.Status.Funded
                )
            );
            escrow.refund(dealId);
        }
    }

    function testFuzz_NothingPaidUntilEveryEntryProven(uint8 modules, uint8 perModule, uint8 proven) public {
        uint256 moduleCount = bound(modules, 1, 4);
        uint256 per = bound(perModule, 1, 3);
        uint256 total = moduleCount * per;
        uint256 provenCount = bound(proven, 0, total - 1);
        uint256 dealId = _propose(2 ether, address(0), BUYER, moduleCount);
        _fundEth(dealId, BUYER, 2 ether, moduleCount, per);
        for (uint256 i = 0; i < provenCount; ++i) _submit(dealId, i);
        vm.expectRevert(
            abi.encodeWithSelector(LoraEscrow.EntriesUnproven.selector, dealId, total - provenCount)
        );
        escrow.settle(dealId);
        for (uint256 i = provenCount; i < total; ++i) _submit(dealId, i);
        escrow.settle(dealId);
        assertEq(CONTRIBUTOR.balance, 2 ether, "paid once all proven");
    }

    function test_AllProvenDealCannotBeRefundedAfterWindow() public {
        uint256 dealId = _propose(1 ether, address(0), BUYER, 1);
        _fundEth(dealId, BUYER, 1 ether, 1, 1);
        _proveAll(dealId);
        vm.warp(block.timestamp + WINDOW + 1);
        vm.expectRevert(abi.encodeWithSelector(LoraEscrow.AllEntriesProven.selector, dealId));
        escrow.refund(dealId);
        escrow.settle(dealId);
        assertEq(CONTRIBUTOR.balance, 1 ether, "settle still pays after the window");
    }

    function test_RejectedProofDoesNotCount() public {
        uint256 dealId = _propose(1 ether, address(0), BUYER, 1);
        _fundEth(dealId, BUYER, 1 ether, 1, 1);
        verifier.setAccept(false);
        uint256[2] memory a;
        uint256[2][2] memory b;
        uint256[2] memory c;
        vm.expectRevert(abi.encodeWithSelector(LoraEscrow.InvalidProof.selector, dealId, 0));
        escrow.submit(dealId, 0, a, b, c);
        assertTrue(!escrow.entryProven(dealId, 0), "not proven");
    }

    function test_SubmitManyRejectsDuplicateEntryInBatch() public {
        uint256 dealId = _propose(1 ether, address(0), BUYER, 1);
        _fundEth(dealId, BUYER, 1 ether, 1, 2);
        LoraEscrow.Proof[] memory proofs = new LoraEscrow.Proof[](2);
        vm.expectRevert(abi.encodeWithSelector(LoraEscrow.EntryAlreadyProven.selector, dealId, 0));
        escrow.submitMany(dealId, proofs); // both proofs name entry 0
        proofs[1].entryIndex = 1;
        escrow.submitMany(dealId, proofs);
        assertEq(escrow.getDeal(dealId).unproven, 0, "all proven");
    }

    function test_FeeOnTransferTokenRejected() public {
        FeeOnTransferToken fee = new FeeOnTransferToken(100);
        vm.prank(CONTRIBUTOR);
        uint256 dealId = escrow.propose(1000, address(fee), BUYER, bytes32(0), _modules(1), WINDOW);
        fee.mint(BUYER, 1000);
        LoraEscrow.EntryInput[] memory entries = _entries(1, 1);
        vm.startPrank(BUYER);
        fee.approve(address(escrow), 1000);
        vm.expectRevert(
            abi.encodeWithSelector(LoraEscrow.TransferAmountMismatch.selector, address(fee), 1000, 990)
        );
        escrow.fund(dealId, entries);
        vm.stopPrank();
    }

    function test_RegistryIsAppendOnly() public {
        bytes32 variant = registry.VARIANT_V1();
        vm.expectRevert(
            abi.encodeWithSelector(
                VerifierRegistry.ShapeAlreadyRegistered.selector,
                shapeId,
                address(verifier)
            )
        );
        registry.register(variant, 2, 4, 2, 3, address(escrow));
        assertEq(registry.verifierOf(shapeId), address(verifier), "verifier unchanged");
        assertEq(registry.shapeIdOf(variant, 2, 4, 2, 3), keccak256(abi.encode(variant, 2, 4, 2, 3)), "id");
    }

    function test_MaxEntriesUseTheWholeBitmap() public {
        uint256 dealId = _propose(1 ether, address(0), BUYER, 64);
        vm.deal(BUYER, 1 ether);
        LoraEscrow.EntryInput[] memory tooMany = _entries(43, 3); // 129 entries
        vm.expectRevert(abi.encodeWithSelector(LoraEscrow.TooManyEntries.selector, 129, 128));
        vm.prank(BUYER);
        escrow.fund{value: 1 ether}(dealId, tooMany);
        _fundEth(dealId, BUYER, 1 ether, 64, 2); // 128 entries
        assertEq(escrow.getDeal(dealId).unproven, 128, "all pending");
        for (uint256 i = 127; i > 0; --i) _submit(dealId, i);
        assertTrue(escrow.entryProven(dealId, 127), "top bit");
        assertTrue(!escrow.entryProven(dealId, 0), "entry 0 pending");
        assertTrue(!escrow.entryProven(dealId, 128), "no entry 128");
        vm.expectRevert(abi.encodeWithSelector(LoraEscrow.EntriesUnproven.selector, dealId, 1));
        escrow.settle(dealId);
        vm.expectRevert(abi.encodeWithSelector(LoraEscrow.EntryAlreadyProven.selector, dealId, 127));
        _submit(dealId, 127);
        _submit(dealId, 0);
        LoraEscrow.Entry[] memory entries = escrow.getEntries(dealId);
        for (uint256 i = 0; i < 128; ++i) {
            assertTrue(entries[i].state == LoraEscrow.EntryState.Proven, "proven");
        }
        escrow.settle(dealId);
        assertEq(CONTRIBUTOR.balance, 1 ether, "paid");
    }
    /// @dev Entry stores are CREATEd with the escrow's nonce, whose RLP encoding widens at 0x80, 0x100
    ///      (and 0x10000): `fund` reverts `EntryStoreFailed` if the computed address were wrong, and each
    ///      deal must read back its own entries.
    function test_EntryStoresAcrossNonceWidths() public {
        uint256 deals = 300;
        for (uint256 i = 0; i < deals; ++i) {
            uint256 dealId = _propose(1, address(0), BUYER, 1);
            LoraEscrow.EntryInput[] memory entries = new LoraEscrow.EntryInput[](1);
            entries[0] = LoraEscrow.EntryInput({
                module: 0,
                hX: i + 1,
                hY: keccak256(abi.encode(i)),
                fY: 3 * i
            });
            vm.deal(BUYER, 1);
            vm.prank(BUYER);
            escrow.fund{value: 1}(dealId, entries);
        }
        uint256[8] memory probes = [uint256(1), 126, 127, 128, 255, 256, 257, 300];
        for (uint256 k = 0; k < probes.length; ++k) {
            uint256 dealId = probes[k];
            LoraEscrow.Entry[] memory got = escrow.getEntries(dealId);
            assertEq(got.length, 1, "one entry");
            assertEq(got[0].hX, dealId, "hX");
            assertEq(got[0].hY, keccak256(abi.encode(dealId - 1)), "hY");
            assertEq(got[0].fY, 3 * (dealId - 1), "fY");
            _submit(dealId, 0);
            assertTrue(escrow.entryProven(dealId, 0), "proven");
        }
    }

    function testFuzz_EntriesRoundTrip(uint256 seed, uint8 modules, uint8 perModule) public {
        uint256 moduleCount = bound(modules, 1, 64);
        uint256 per = bound(perModule, 1, 128 / moduleCount);
        uint256 dealId = _propose(1, address(0), BUYER, moduleCount);
        LoraEscrow.EntryInput[] memory entries = new LoraEscrow.EntryInput[](moduleCount * per);
        for (uint256 m = 0; m < moduleCount; ++m) {
            for (uint256 k = 0; k < per; ++k) {
                uint256 h = uint256(keccak256(abi.encode(seed, m, k)));
                entries[m * per + k] = LoraEscrow.EntryInput({
                    module: uint32(m),
                    hX: (h % (P / 256)) * 128 + k, // ascending within the module
                    hY: keccak256(abi.encode(h)),
                    fY: h % P
                });
            }
            for (uint256 k = 1; k < per; ++k) {
                // Sort each module's entries by hX (insertion sort over the small run).
                for (uint256 j = m * per + k; j > m * per && entries[j - 1].hX > entries[j].hX; --j) {
                    (entries[j - 1], entries[j]) = (entries[j], entries[j - 1]);
                }
            }
        }
        vm.deal(BUYER, 1);
        vm.prank(BUYER);
        escrow.fund{value: 1}(dealId, entries);
        LoraEscrow.Entry[] memory got = escrow.getEntries(dealId);
        assertEq(got.length, entries.length, "count");
        for (uint256 i = 0; i < got.length; ++i) {
            assertEq(got[i].module, entries[i].module, "module");
            assertEq(got[i].hX, entries[i].hX, "hX");
            assertEq(got[i].hY, entries[i].hY, "hY");
            assertEq(got[i].fY, entries[i].fY, "fY");
            assertTrue(got[i].state == LoraEscrow.EntryState.Pending, "pending");
            uint256[4] memory signals = escrow.publicSignalsOf(dealId, i);
            assertEq(signals[0], 1000 + entries[i].module, "C_m");
            assertEq(signals[1], entries[i].hX, "hX signal");
            assertEq(signals[3], entries[i].fY, "fY signal");
        }
    }
}
