// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TestPoints} from "./TestBase.sol";
import {LoraEscrowV2} from "../../v2/LoraEscrowV2.sol";

/// @title DealFixtureV2
/// @notice TEST ONLY: the module entries the escrow's Solidity tests fund with, and the claim that proves
///         one (the rho the escrow computes for it), for tests where the verifier is a switch.
library DealFixtureV2 {
    uint256 internal constant P =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;

    /// @notice The entry funded for module `m` (valid points, distinct digests per module).
    function entry(uint256 m) internal pure returns (LoraEscrowV2.Entry memory) {
        return
            LoraEscrowV2.Entry(
                keccak256(abi.encode("x", m)),
                keccak256(abi.encode("y", m)),
                TestPoints.g1(),
                7 + m
            );
    }

    /// @notice The claim of module `m` of deal `id` funded with `entry(m)`, W_m the G1 generator.
    function claim(
        LoraEscrowV2 escrow,
        uint256 id,
        bytes32 shapeId,
        uint256 m
    ) internal view returns (LoraEscrowV2.Claim memory) {
        LoraEscrowV2.Entry memory e = entry(m);
        uint256 rho = uint256(keccak256(abi.encode(block.chainid, address(escrow), id, m, e.hX, e.hY))) % P;
        return LoraEscrowV2.Claim(m, shapeId, TestPoints.g1(), rho, e.fY, e.dX);
    }
}
