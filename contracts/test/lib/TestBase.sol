// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Vm
/// @notice TEST ONLY: the subset of the Foundry cheatcodes (served by Hardhat 3's Solidity test runner
///         at the standard cheatcode address) the zklora Solidity tests use. Written here because no
///         current forge-std is on the npm registry.
interface Vm {
    function prank(address sender) external;
    function startPrank(address sender) external;
    function stopPrank() external;
    function deal(address account, uint256 newBalance) external;
    function warp(uint256 newTimestamp) external;
    function assume(bool condition) external;
    function expectRevert(bytes calldata revertData) external;
    function expectRevert(bytes4 revertData) external;
    function chainId(uint256 newChainId) external;
    function label(address account, string calldata newLabel) external;
}

/// @title TestBase
/// @notice TEST ONLY: minimal assertions (each failure reverts with a message naming the values) and
///         helpers for Hardhat 3 Solidity tests.
abstract contract TestBase {
    /// @notice The cheatcode contract.
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    /// @notice An assertion failed.
    error AssertionFailed(string message, uint256 left, uint256 right);

    function assertTrue(bool condition, string memory message) internal pure {
        if (!condition) revert AssertionFailed(message, 0, 0);
    }

    function assertEq(uint256 left, uint256 right, string memory message) internal pure {
        if (left != right) revert AssertionFailed(message, left, right);
    }

    function assertEq(address left, address right, string memory message) internal pure {
        if (left != right) revert AssertionFailed(message, uint160(left), uint160(right));
    }

    function assertEq(bytes32 left, bytes32 right, string memory message) internal pure {
        if (left != right) revert AssertionFailed(message, uint256(left), uint256(right));
    }

    function assertLe(uint256 left, uint256 right, string memory message) internal pure {
        if (left > right) revert AssertionFailed(message, left, right);
    }

    /// @notice Maps `x` into `[min, max]` (inclusive) without discarding fuzz inputs.
    function bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        require(min <= max, "bound: min > max");
        uint256 size = max - min;
        if (size == type(uint256).max) return x;
        return min + (x % (size + 1));
    }
}

/// @title TestPoints
/// @notice TEST ONLY: curve points the escrow's Solidity tests use where any valid point will do.
library TestPoints {
    /// @notice The G1 generator (a valid W_m or D_X).
    function g1() internal pure returns (uint256[2] memory) {
        return [uint256(1), 2];
    }

    /// @notice The G2 generator in EIP-197 order (a valid δ').
    function g2() internal pure returns (uint256[4] memory) {
        return
            [
                11559732032986387107991004021392285783925812861821192530917403151452391805634,
                10857046999023057135944570762232829481370756359578518086990519993285655852781,
                4082367875863433681332203403145435568316851327593401208105741076214120093531,
                8495653923123431417604973247489272438418190587263600148770280649306958101930
            ];
    }
}
