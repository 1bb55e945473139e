// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IPoseidon1
/// @notice circomlib's Poseidon hash of one field element (state width t = 2), as deployed from the
///         bytecode of circomlibjs 0.1.7 `poseidonContract.createCode(1)` (src/chain/poseidon.ts). It is
///         the hash `hK = Poseidon([k])` of a delivery key, identical to circomlib's `Poseidon(1)`
///         template used by the delivery circuit and to `deliveryKeyHash` in src/zk.
interface IPoseidon1 {
    /// @notice Poseidon([input[0]]).
    /// @param input The element to hash (must be below the BN254 scalar field modulus).
    /// @return The hash, a field element.
    function poseidon(uint256[1] calldata input) external pure returns (uint256);
}
