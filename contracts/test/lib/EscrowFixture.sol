// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TestBase} from "./TestBase.sol";
import {VerifierRegistry} from "../../VerifierRegistry.sol";
import {LoraEscrow} from "../../LoraEscrow.sol";
import {ToggleVerifier} from "../ToggleVerifier.sol";
import {ERC20Mock} from "../ERC20Mock.sol";
import {KeccakKeyHasher} from "../KeccakKeyHasher.sol";

/// @title EscrowFixture
/// @notice TEST ONLY: a registry with one shape checked by a `ToggleVerifier`, an escrow and a token,
///         plus helpers to propose and fund deals. Solidity tests cannot make Groth16 proofs, so the
///         verifier here is a switch; these tests are about accounting and state transitions. The
///         real-proof deal tests live in test/contracts/*.test.ts.
abstract contract EscrowFixture is TestBase {
    uint256 internal constant P =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    uint256 internal constant WINDOW = 1 days;

    VerifierRegistry internal registry;
    LoraEscrow internal escrow;
    ToggleVerifier internal verifier;
    ERC20Mock internal token;
    bytes32 internal shapeId;
    KeccakKeyHasher internal keyHasher;

    address internal constant CONTRIBUTOR = address(0xC0);
    address internal constant BUYER = address(0xB0);
    address internal constant STRANGER = address(0x5E);

    function setUp() public virtual {
        registry = new VerifierRegistry(address(this));
        verifier = new ToggleVerifier(true);
        shapeId = registry.register(registry.VARIANT_V1(), 2, 4, 2, 3, address(verifier));
        keyHasher = new KeccakKeyHasher();
        escrow = new LoraEscrow(registry, keyHasher);
        token = new ERC20Mock("Mock", "MOCK");
    }

    function _modules(uint256 count) internal view returns (LoraEscrow.ModuleSpec[] memory modules) {
        modules = new LoraEscrow.ModuleSpec[](count);
        for (uint256 m = 0; m < count; ++m) {
            modules[m] = LoraEscrow.ModuleSpec({target: "layer", shapeId: shapeId, commitment: 1000 + m});
        }
    }

    /// @dev `perModule` entries for each of `moduleCount` modules, sorted by (module, hX).
    function _entries(
        uint256 moduleCount,
        uint256 perModule
    ) internal pure returns (LoraEscrow.EntryInput[] memory entries) {
        entries = new LoraEscrow.EntryInput[](moduleCount * perModule);
        for (uint256 m = 0; m < moduleCount; ++m) {
            for (uint256 k = 0; k < perModule; ++k) {
                entries[m * perModule + k] = LoraEscrow.EntryInput({
                    module: uint32(m),
                    hX: 1 + k,
                    hY: keccak256(abi.encode(m, k)),
                    fY: 7 + m + k
                });
            }
        }
    }

    function _propose(
        uint256 price,
        address payToken,
        address buyer,
        uint256 moduleCount
    ) internal returns (uint256) {
        vm.prank(CONTRIBUTOR);
        return escrow.propose(price, payToken, buyer, bytes32("base"), _modules(moduleCount), WINDOW);
    }

    function _fundEth(
        uint256 dealId,
        address buyer,
        uint256 price,
        uint256 moduleCount,
        uint256 perModule
    ) internal {
        vm.deal(buyer, price);
        vm.prank(buyer);
        escrow.fund{value: price}(dealId, _entries(moduleCount, perModule));
    }

    function _fundToken(
        uint256 dealId,
        address buyer,
        uint256 price,
        uint256 moduleCount,
        uint256 perModule
    ) internal {
        token.mint(buyer, price);
        vm.startPrank(buyer);
        token.approve(address(escrow), price);
        escrow.fund(dealId, _entries(moduleCount, perModule));
        vm.stopPrank();
    }

    function _proveAll(uint256 dealId) internal {
        uint256 count = escrow.getDeal(dealId).entryCount;
        uint256[2] memory a;
        uint256[2][2] memory b;
        uint256[2] memory c;
        for (uint256 i = 0; i < count; ++i) escrow.submit(dealId, i, a, b, c);
    }

    function _submit(uint256 dealId, uint256 entryIndex) internal {
        uint256[2] memory a;
        uint256[2][2] memory b;
        uint256[2] memory c;
        escrow.submit(dealId, entryIndex, a, b, c);
    }
}
